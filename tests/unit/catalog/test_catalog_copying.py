"""Copies of a catalog (analysis_lib/catalog/copying.py): moving a SQLite catalog to a server
while jobs write to it — one consistent copy, then the file marked moved (reads warn, writes
are refused, naming the server) — and snapshots rotated in a folder for a timer.

Real PostgreSQL (tests/conftest.py ``postgres_server``), a real writer process, real files.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psycopg2
import pytest

from analysis_lib.catalog import Catalog, CatalogError
from analysis_lib.catalog.copying import migrate
from analysis_lib.catalog.store import CatalogMovedWarning
from rarehub_testing import make_file
from rarehub_testing import run_rarehub as rarehub


@pytest.fixture
def small_catalog(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    with Catalog.open(folder / "catalog.sqlite") as cat:
        cat.add_dataset("ge1", detector="ge1")
        cat.add_run("ge1", 1, run_type="physics", quality="good", start="2026-01-01")
        cat.add_file(make_file(folder / "raw" / "run1.csv", b"1"), dataset="ge1", run=1)
    return folder / "catalog.sqlite"


def test_a_moved_catalog_reads_with_a_warning_and_refuses_every_write(
    small_catalog, postgres_server, tmp_path
):
    db = postgres_server.create_database("moved")
    # a site that keeps the password in a mode-600 URL file: it never reaches a message
    secret = postgres_server.pgpass.read_text().splitlines()[0].rsplit(":", 1)[1]
    url_file = tmp_path / "to-url"
    url_file.write_text(f"postgresql://postgres:{secret}@127.0.0.1:{postgres_server.port}/{db}")
    url_file.chmod(0o600)
    done = rarehub("catalog", "--db", str(small_catalog), "migrate", "--to-url-file", str(url_file))
    assert done.returncode == 0, done.stderr
    url = f"postgresql://postgres:***@127.0.0.1:{postgres_server.port}/{db}"
    assert f"marked moved to {url}" in done.stdout
    assert secret not in done.stdout + done.stderr
    for part in small_catalog.parent.glob("catalog.sqlite*"):
        assert secret.encode() not in part.read_bytes(), part
    extra = make_file(tmp_path / "later" / "run1_b.csv", b"2")
    for readonly in (False, True):  # an analyzer's notebook, writable or not, still reads
        u = re.escape(url)
        with pytest.warns(CatalogMovedWarning, match=f"moved to {u} on 20.*open {u}"):
            old = Catalog.open(small_catalog, readonly=readonly)
        with old:
            assert old.moved()["moved_to"] == url
            assert old.runs()["run_number"].tolist() == [1]
            assert len(old.files()) == 1
    with pytest.warns(CatalogMovedWarning):
        old = Catalog.open(small_catalog)
    refused = f"moved to {re.escape(url)} on 20.*no more writes here, write to {re.escape(url)}"
    writes = {
        "add_dataset": lambda: old.add_dataset("ge2"),
        "add_run": lambda: old.add_run("ge1", 2, run_type="noise"),
        "add_file": lambda: old.add_file(extra, dataset="ge1", run=1),
        "set_quality": lambda: old.set_quality("ge1", 1, "bad"),
        "record_deletion": lambda: old.record_deletion("/x", size_bytes=1, reason="r"),
        "scan": lambda: old.scan(extra.parent, dataset="ge1"),
        "verify": lambda: old.verify(),
        "transaction": lambda: old.transaction().__enter__(),
    }
    with old:
        for name, write in writes.items():
            with pytest.raises(CatalogError, match=refused):
                write()
            assert old._depth == 0, name  # refused and rolled back: the next call works
        assert len(old.files()) == 1
        assert old.runs()["quality"].tolist() == ["good"]
    # the command line says the same; a second migrate is refused unless forced
    added = rarehub("catalog", "--db", str(small_catalog), "add", str(extra), "--dataset", "ge1")
    assert added.returncode == 2
    assert f"moved to {url}" in added.stderr
    listed = rarehub("catalog", "--db", str(small_catalog), "list", "runs")
    assert listed.returncode == 0
    assert "ge1" in listed.stdout
    assert f"warning: the catalog {small_catalog} was moved to {url}" in listed.stderr
    again = rarehub(
        "catalog", "--db", str(small_catalog), "migrate", "--to-url-file", str(url_file)
    )
    assert again.returncode == 2
    assert "already; to copy it again" in again.stderr
    url2 = postgres_server.url(postgres_server.create_database("moved_again"))
    forced = rarehub("catalog", "--db", str(small_catalog), "migrate", "--force", "--to", url2)
    assert forced.returncode == 0, forced.stderr
    with pytest.warns(CatalogMovedWarning, match=f"moved to {url2}"):
        Catalog.open(small_catalog, readonly=True).close()
    with Catalog.open(url2, readonly=True) as server:
        assert server.files()["path"].tolist() == [str(small_catalog.parent / "raw/run1.csv")]
    # un-marked, the file takes writes again
    unmarked = rarehub("catalog", "--db", str(small_catalog), "migrate", "--unmark")
    assert unmarked.returncode == 0
    assert f"moved to {url2}" in unmarked.stdout
    with Catalog.open(small_catalog) as cat:  # no warning (warnings are errors here)
        assert cat.moved() is None
        cat.add_file(extra, dataset="ge1", run=1)


def test_a_writer_waiting_on_a_migration_is_told_which_then_refused(
    small_catalog, postgres_server, tmp_path
):
    db = postgres_server.create_database("slow")
    url = postgres_server.url(db)
    Catalog.open(url).close()  # the empty schema, so that its files table can be locked
    holder = psycopg2.connect(url)  # holds the target's files table: the copy stalls there
    cursor = holder.cursor()
    cursor.execute("LOCK TABLE files IN SHARE MODE")  # COPY waits; SELECT COUNT(*) does not
    errors: list[BaseException] = []

    def run_migrate():
        try:
            with Catalog.open(small_catalog) as src:
                migrate(src, url)
        except BaseException as e:  # pragma: no cover - reported by the assert below
            errors.append(e)

    mover = threading.Thread(target=run_migrate)
    mover.start()
    try:
        deadline = time.monotonic() + 20
        while (
            not postgres_server.psql(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                f" AND datname = '{db}'"
            )
            .strip()
            .startswith(("1", "2"))
        ):
            assert time.monotonic() < deadline, "the migration never reached the target"
            time.sleep(0.05)
        # the migration now holds the SQLite write lock (it copies the files table last)
        extra = make_file(tmp_path / "run1_c.csv", b"3")
        with Catalog.open(small_catalog, timeout_s=0.3) as writer:
            with pytest.raises(CatalogError, match=f"a migration to {url} .*held it for more"):
                writer.add_file(extra, dataset="ge1", run=1)
            holder.rollback()  # the copy goes on and ends
            mover.join(timeout=20)
            with pytest.raises(CatalogError, match=f"moved to {url}"):
                writer.add_file(extra, dataset="ge1", run=1)
    finally:
        holder.close()
        mover.join(timeout=20)
    assert not errors, errors
    with pytest.warns(CatalogMovedWarning), Catalog.open(small_catalog, readonly=True) as old:
        assert "migrating_to" not in old.meta()  # the marker went with the move
    with Catalog.open(url, readonly=True) as server:
        assert len(server.files()) == 1


HAMMER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from analysis_lib.catalog import Catalog, CatalogError
    target, folder = sys.argv[1], Path(sys.argv[2])
    cat = Catalog.open(target, create=False)
    n = 0
    while True:
        f = folder / f"run1_{n:05d}.csv"
        f.write_text(f"{n}\\n")
        try:
            cat.add_file(f, dataset="ge1", run=1)
        except CatalogError as e:
            print("REFUSED", e, flush=True)
            break
        print("REGISTERED", f, flush=True)   # told it is registered: it must reach the server
        n += 1
    """
)


def test_a_killed_migration_leaves_a_marker_no_one_mistakes_for_it(
    small_catalog, postgres_server, tmp_path
):
    """``migrate`` killed with SIGKILL (it cannot clean up) leaves its ``migrating_to``
    marker behind. A writer kept waiting by someone else is then not told that migration
    holds the lock: it is told the migration's process has ended. Migrating again works
    and clears the marker."""
    import sqlite3

    db = postgres_server.create_database("killed")
    url = postgres_server.url(db)
    Catalog.open(url).close()
    holder = psycopg2.connect(url)
    holder.cursor().execute("LOCK TABLE files IN SHARE MODE")  # the copy stalls there
    script = "import sys; from analysis_lib.catalog import Catalog; "
    script += "from analysis_lib.catalog.copying import migrate; "
    script += "migrate(Catalog.open(sys.argv[1]), sys.argv[2])"
    mover = subprocess.Popen([sys.executable, "-c", script, str(small_catalog), url])
    try:
        deadline = time.monotonic() + 20
        while "1" not in postgres_server.psql(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            f" AND datname = '{db}'"
        ):
            assert time.monotonic() < deadline, "the migration never reached the target"
            time.sleep(0.05)
        mover.kill()
        mover.wait(timeout=10)
    finally:
        holder.close()
    with sqlite3.connect(small_catalog) as raw:
        marker = dict(raw.execute("SELECT key, value FROM meta WHERE key LIKE 'migrating%'"))
    assert marker["migrating_by"].endswith(f" {mover.pid}")
    other = sqlite3.connect(small_catalog, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # someone else now holds the write lock
    try:
        told = rf"another writer \(not the migration to {url}.*its process {mover.pid} has ended"
        with (
            Catalog.open(small_catalog, timeout_s=0.3) as writer,
            pytest.raises(CatalogError, match=told),
        ):
            writer.add_run("ge1", 2, run_type="physics")
    finally:
        other.execute("ROLLBACK")
        other.close()
    with Catalog.open(small_catalog) as src:
        assert migrate(src, url)["moved_to"] == url
    with sqlite3.connect(small_catalog) as raw:
        keys = {k for (k,) in raw.execute("SELECT key FROM meta")}
    assert "moved_to" in keys
    assert not {k for k in keys if k.startswith("migrating")}


def test_a_writer_hammering_add_file_during_migrate_loses_nothing(
    small_catalog, postgres_server, tmp_path
):
    url = postgres_server.url(postgres_server.create_database("hammered"))
    snapshot = tmp_path / "snapshot.sqlite"
    folder = tmp_path / "incoming"
    folder.mkdir()
    lines: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-c", HAMMER, str(small_catalog), str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as writer:
        reader = threading.Thread(target=lambda: lines.extend(writer.stdout), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 30
            while len(lines) < 30:  # the writer is in full swing
                assert writer.poll() is None, writer.stderr.read()
                assert time.monotonic() < deadline, lines
                time.sleep(0.02)
            # a snapshot meanwhile is one state: read in one transaction, the writer goes on
            snap = rarehub("catalog", "--db", str(small_catalog), "snapshot", "--to", str(snapshot))
            assert snap.returncode == 0, snap.stderr
            done = rarehub("catalog", "--db", str(small_catalog), "migrate", "--to", url)
            assert done.returncode == 0, done.stderr
            assert writer.wait(timeout=30) == 0, writer.stderr.read()
        finally:
            if writer.poll() is None:
                writer.kill()
            reader.join(timeout=10)
    registered = [line.split(" ", 1)[1].strip() for line in lines if line.startswith("REGISTERED")]
    refusals = [line for line in lines if line.startswith("REFUSED")]
    assert len(registered) >= 30
    assert len(refusals) == 1, lines[-3:]
    assert f"moved to {url}" in refusals[0]
    with Catalog.open(url, readonly=True) as server:
        on_server = server.files()["path"].tolist()
    assert set(registered) <= set(on_server)  # every file the writer was told is registered
    assert len(on_server) == len(registered) + 1  # + the fixture's one file; nothing else
    with pytest.warns(CatalogMovedWarning):
        old = Catalog.open(small_catalog, readonly=True)
    with old:
        assert sorted(old.files()["path"]) == sorted(on_server)  # nothing written after
    with Catalog.open(snapshot, readonly=True) as snap:
        taken = snap.files()["path"].tolist()
    assert 30 <= len(taken) - 1 <= len(registered)
    first = str(small_catalog.parent / "raw" / "run1.csv")  # the fixture's
    assert set(taken) == {first, *registered[: len(taken) - 1]}  # a prefix: one state


def test_scheduled_snapshots_rotate_in_a_folder_behind_a_latest_link(small_catalog, tmp_path):
    folder = tmp_path / "snapshots"
    folder.mkdir()
    (folder / "README").write_text("not a snapshot: never removed\n")
    written = []
    for n in range(3):  # three timer runs, a file registered before the last
        if n == 2:
            extra = make_file(small_catalog.parent / "raw" / "run1_late.csv", b"late")
            with Catalog.open(small_catalog) as cat:
                cat.add_file(extra, dataset="ge1", run=1)
        done = rarehub(
            "catalog", "--db", str(small_catalog), "snapshot", "--to", str(folder), "--keep", "2"
        )
        assert done.returncode == 0, done.stderr
        written.append(done.stdout.split()[1])
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(
        ["README", "catalog-latest.sqlite", *(Path(w).name for w in written[1:])]
    )
    assert (folder / "catalog-latest.sqlite").readlink() == Path(Path(written[-1]).name)
    assert "removed 1 older" in done.stdout
    with Catalog.open(folder / "catalog-latest.sqlite", readonly=True) as latest:
        assert len(latest.files()) == 2  # the newest state
        assert latest.meta()["snapshot_of"] == str(small_catalog)
    with Catalog.open(written[1], readonly=True) as older:
        assert len(older.files()) == 1
    assert Path(written[1]).stat().st_mode & 0o777 == 0o444
    for bad, why in (
        (["--to", str(folder), "--keep", "0"], "keep at least 1"),
        (["--to", str(tmp_path / "one.sqlite"), "--keep", "2"], "must be a folder"),
    ):
        refused = rarehub("catalog", "--db", str(small_catalog), "snapshot", *bad)
        assert refused.returncode == 2
        assert why in refused.stderr
