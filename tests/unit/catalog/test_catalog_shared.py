"""The catalog a collaboration shares: schema migrations, many writers, copies to a server,
offline snapshots, database roles and credentials. Real PostgreSQL (tests/conftest.py
``postgres_server``), real processes, real files.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

import analysis_lib.catalog as catalog_pkg
from analysis_lib.apps.storage import catalog_storage
from analysis_lib.catalog import Catalog, CatalogError, sha256_file
from analysis_lib.catalog.store import SCHEMA_HEAD, CatalogFallbackWarning, CatalogMovedWarning
from rarehub_testing import free_port_block, make_file
from rarehub_testing import run_rarehub as rarehub

# The schema of catalogs written before migrations existed (meta.schema_version = 1).
V1_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    detector TEXT,
    description TEXT NOT NULL DEFAULT '',
    simulated INTEGER NOT NULL DEFAULT 0,
    generator TEXT,            -- e.g. 'Geant4', 'NEST', 'analysis_lib.demo'
    generator_version TEXT,
    generator_config TEXT,     -- JSON: the configuration the generator ran with
    created_utc TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id),
    run_number INTEGER NOT NULL,
    detector TEXT,
    run_type TEXT NOT NULL CHECK (run_type IN
        ('physics', 'calibration', 'noise', 'beam-off', 'simulation')),
    start_utc TEXT,
    end_utc TEXT,
    quality TEXT NOT NULL DEFAULT 'unknown' CHECK (quality IN ('good', 'bad', 'unknown')),
    dq_flags TEXT NOT NULL DEFAULT '[]',   -- JSON list of data-quality flag names
    metadata TEXT NOT NULL DEFAULT '{}',
    UNIQUE (dataset_id, run_number)
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id),
    run_id INTEGER REFERENCES runs(id),
    path TEXT NOT NULL UNIQUE,  -- relative to the catalog folder when inside it
    volume TEXT NOT NULL,       -- the mount point the file lives on
    size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
    sha256 TEXT NOT NULL,
    format TEXT NOT NULL,
    start_utc TEXT,
    end_utc TEXT,
    added_utc TEXT NOT NULL,
    verified_utc TEXT,
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS growth (
    day TEXT NOT NULL,          -- UTC date, YYYY-MM-DD
    dataset_id INTEGER NOT NULL REFERENCES datasets(id),
    volume TEXT NOT NULL,
    bytes_added INTEGER NOT NULL,
    files_added INTEGER NOT NULL,
    PRIMARY KEY (day, dataset_id, volume)
);
CREATE INDEX IF NOT EXISTS runs_by_detector ON runs (detector, run_type, start_utc);
CREATE INDEX IF NOT EXISTS files_by_run ON files (run_id);
"""


def test_schema_head_is_the_newest_migration():
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(catalog_pkg.__file__).with_name("migrations")))
    assert ScriptDirectory.from_config(cfg).get_current_head() == SCHEMA_HEAD


def test_a_catalog_from_before_migrations_is_upgraded_in_place(tmp_path):
    db = tmp_path / "catalog.sqlite"
    con = sqlite3.connect(db)
    con.executescript(V1_SCHEMA + "INSERT INTO meta VALUES ('schema_version', '1');")
    f = make_file(tmp_path / "raw" / "run3.csv", b"1,2\n")
    con.executescript(
        "INSERT INTO datasets (name, created_utc) VALUES ('old', '2025-01-01T00:00:00Z');"
        "INSERT INTO runs (dataset_id, run_number, run_type) VALUES (1, 3, 'noise');"
        "INSERT INTO files (dataset_id, run_id, path, volume, size_bytes, sha256, format,"
        f" added_utc) VALUES (1, 1, 'raw/run3.csv', '/', 4, '{sha256_file(f)}', 'csv',"
        " '2025-01-01T00:00:00Z');"
    )
    con.close()
    with Catalog.open(db, readonly=True) as ro:  # read-only: read as it is, never migrated
        assert ro.meta()["schema_version"] == "1"
        assert ro.deletions().empty
    with Catalog.open(db) as cat:
        assert cat.meta()["schema_version"] == "2"
        assert cat.verify()["status"].tolist() == ["ok"]
        assert cat.runs()["run_type"].tolist() == ["noise"]
        cat.record_deletion(tmp_path / "x.parquet", size_bytes=10, reason="test")
    con = sqlite3.connect(db)
    assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [(SCHEMA_HEAD,)]
    assert con.execute("SELECT COUNT(*) FROM deletions").fetchone() == (1,)


def test_a_catalog_with_the_interim_deletions_table_is_upgraded_too(tmp_path):
    """Catalogs written by the SQLite-only code that already had ``deletions`` keep it."""
    db = tmp_path / "catalog.sqlite"
    con = sqlite3.connect(db)
    con.executescript(
        V1_SCHEMA
        + "INSERT INTO meta VALUES ('schema_version', '1');"
        + "CREATE TABLE deletions (id INTEGER PRIMARY KEY, path TEXT NOT NULL, dataset TEXT,"
        " result_key TEXT, size_bytes INTEGER NOT NULL, sha256 TEXT, reason TEXT NOT NULL,"
        " deleted_utc TEXT NOT NULL, metadata TEXT NOT NULL DEFAULT '{}');"
        "INSERT INTO deletions (path, size_bytes, reason, deleted_utc)"
        " VALUES ('/r/a.parquet', 7, 'freed', '2026-12-01T00:00:00Z');"
    )
    con.close()
    with Catalog.open(db) as cat:
        assert cat.meta()["schema_version"] == "2"
        assert cat.deletions()["size_bytes"].tolist() == [7]


def test_deletions_of_results_are_recorded(cat, tmp_path):
    cat.add_dataset("ge1")
    first = cat.record_deletion(
        tmp_path / "results" / "abc" / "features.parquet",
        size_bytes=2_000_000,
        reason="rebuildable, older than 30 d",
        dataset="ge1",
        result_key="abc",
        sha256="0" * 64,
        deleted="2026-03-01T00:00:00",
    )
    cat.record_deletion("/x/y.parquet", size_bytes=5, reason="by hand", dataset="other")
    d = cat.deletions()
    assert d["id"].tolist()[0] == first
    assert d["size_bytes"].tolist() == [2_000_000, 5]
    assert d["result_key"].tolist()[0] == "abc"
    assert cat.deletions(dataset="ge1")["path"].tolist() == [
        str(tmp_path / "results" / "abc" / "features.parquet")
    ]
    assert len(cat.deletions(since="2026-06-01")) == 1
    with pytest.raises(CatalogError, match="reason must be"):
        cat.record_deletion("/x", size_bytes=1, reason="")
    with pytest.raises(CatalogError, match="size_bytes -1"):
        cat.record_deletion("/x", size_bytes=-1, reason="r")


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from analysis_lib.catalog import Catalog
    target, me, folder = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    cat = Catalog.open(target, create=False)
    cat.add_dataset("shared")                    # every writer: exists once
    slowest = 0.0
    for n in range(8):                           # runs 0..7 are shared, 100*me+n are own
        for run in (n, 100 * me + n):
            t = time.monotonic()
            try:
                cat.add_run("shared", run, run_type="physics")
            except Exception as e:
                assert "already exists" in str(e), e
            slowest = max(slowest, time.monotonic() - t)
        f = folder / f"w{me}" / f"run{100 * me + n}.csv"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(f"{me},{n}\\n")
        t = time.monotonic()
        cat.add_file(f, dataset="shared", run=100 * me + n)
        slowest = max(slowest, time.monotonic() - t)
    cat.scan(folder / "common", dataset="shared")  # all writers scan the same folder
    print(f"{slowest:.3f}")
    """
)


def test_many_writers_at_once_lose_nothing_and_duplicate_nothing(catalog_target, tmp_path):
    common = tmp_path / "common"
    for n in range(40):
        make_file(common / f"run{n % 8}" / f"part{n}.csv", f"{n}\n".encode())
    with Catalog.open(catalog_target) as cat:
        cat.add_dataset("seed")
    writers = 4
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(catalog_target), str(me), str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for me in range(1, writers + 1)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * writers, [e for _, e in outs]
    with Catalog.open(catalog_target, readonly=True) as cat:
        runs = cat.runs(dataset="shared")
        assert sorted(runs["run_number"]) == sorted(
            [*range(8), *(100 * me + n for me in range(1, writers + 1) for n in range(8))]
        )
        files = cat.files(dataset="shared")
        assert len(files) == writers * 8 + 40
        assert files["path"].is_unique
        assert int(cat.growth(dataset="shared")["files_added"].sum()) == len(files)
        assert int(cat.growth(dataset="shared")["bytes_added"].sum()) == int(
            files["size_bytes"].sum()
        )
        assert (cat.datasets()["dataset"] == "shared").sum() == 1
        assert cat.integrity_check() == "ok"


@pytest.fixture
def sqlite_catalog(tmp_path):
    """A SQLite catalog with relative paths, in its own folder: what sites move from."""
    folder = tmp_path / "site"
    folder.mkdir()
    with Catalog.open(folder / "catalog.sqlite") as cat:
        cat.add_dataset("ge1", detector="ge1")
        for n in (1, 2):
            cat.add_run(
                "ge1", n, run_type="physics", quality="good", start=f"2026-01-0{n}",
                metadata={"note": "tab\there, newline\nthere, back\\slash, \\N, ünïcode"},
            )  # fmt: skip
            cat.add_file(make_file(folder / "raw" / f"run{n}.csv", b"7" * n), dataset="ge1", run=n)
        cat.record_deletion(folder / "old.parquet", size_bytes=3, reason="test")
    return folder / "catalog.sqlite"


def test_migrate_copies_a_sqlite_catalog_into_a_server_with_checksums_intact(
    sqlite_catalog, postgres_server
):
    url = postgres_server.url(postgres_server.create_database("migrated"))
    done = rarehub("catalog", "--db", str(sqlite_catalog), "migrate", "--to", url)
    assert done.returncode == 0, done.stderr
    assert "checksums intact" in done.stdout
    with pytest.warns(CatalogMovedWarning, match=f"moved to {url}"):
        src = Catalog.open(sqlite_catalog, readonly=True)  # marked moved: reads, with a warning
    with src, Catalog.open(url) as dst:
        a, b = src.files(), dst.files()
        assert b["path"].tolist() == a["path"].tolist()  # absolute on the server
        assert b["sha256"].tolist() == a["sha256"].tolist()
        assert dst.verify()["status"].tolist() == ["ok", "ok"]
        pd.testing.assert_frame_equal(src.runs(), dst.runs())
        assert len(dst.deletions()) == 1
        # the planner has statistics for the copied rows at once (not when autovacuum comes)
        analyzed = dst._q("SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL")
        assert {"datasets", "runs", "files"} <= {r[0] for r in analyzed}
        new = dst.add_run("ge1", 3, run_type="noise")  # ids continue after the copied ones
        assert new == 3
    again = rarehub("catalog", "--db", str(sqlite_catalog), "migrate", "--force", "--to", url)
    assert again.returncode == 2
    assert "already holds a catalog" in again.stderr


def test_snapshot_is_read_when_the_server_is_down_and_says_how_old(
    sqlite_catalog, postgres_server, tmp_path
):
    url = postgres_server.url(postgres_server.create_database("snap"))
    assert rarehub("catalog", "--db", str(sqlite_catalog), "migrate", "--to", url).returncode == 0
    snap = tmp_path / "offline" / "catalog-snapshot.sqlite"
    snap.parent.mkdir()
    done = rarehub("catalog", "--db", url, "snapshot", "--to", str(snap))
    assert done.returncode == 0, done.stderr
    assert snap.stat().st_mode & 0o777 == 0o444
    assert sorted(p.name for p in snap.parent.iterdir()) == [snap.name]  # no -wal, no temp
    dead = f"postgresql://postgres@127.0.0.1:{free_port_block(1)}/snap"  # nothing listens
    with pytest.warns(CatalogFallbackWarning, match=r"cannot connect to .* snapshot .* min old"):
        cat = Catalog.open(dead, readonly=True, snapshot=snap, timeout_s=2)
    with cat:
        assert cat.meta()["snapshot_of"] == url
        assert 0 <= cat.snapshot_age_s < 600
        assert cat.runs()["run_number"].tolist() == [1, 2]
        assert cat.verify(record=False)["status"].tolist() == ["ok", "ok"]
        with pytest.raises(CatalogError, match="read-only"):
            cat.add_run("ge1", 9, run_type="physics")
    listed = rarehub("catalog", "--db", dead, "--snapshot", str(snap), "list", "runs")
    assert listed.returncode == 0, listed.stderr
    assert "reading the snapshot" in listed.stderr
    assert "ge1" in listed.stdout
    with pytest.raises(CatalogError, match="cannot connect to the catalog server"):
        Catalog.open(dead, readonly=True, timeout_s=2)  # no snapshot named: an error


def test_reader_role_reads_writer_role_writes(postgres_server, tmp_path):
    db = postgres_server.create_database("roles")
    owner_url = postgres_server.url(db)
    with Catalog.open(owner_url) as cat:
        cat.add_dataset("d")
    for role in ("cat_reader", "cat_writer"):
        password = os.urandom(12).hex()
        postgres_server.psql(
            f"DO $$BEGIN CREATE ROLE {role} LOGIN PASSWORD '{password}';"
            " EXCEPTION WHEN duplicate_object THEN NULL; END$$"
        )
        postgres_server.psql(f"ALTER ROLE {role} PASSWORD '{password}'")
        postgres_server.add_password(role, password)
    done = rarehub(
        "catalog", "--db", owner_url, "roles", "--reader", "cat_reader", "--writer", "cat_writer"
    )
    assert done.returncode == 0, done.stderr
    f = make_file(tmp_path / "run1.csv", b"1\n")
    with Catalog.open(postgres_server.url(db, "cat_writer")) as writer:
        writer.add_run("d", 1, run_type="physics")
        writer.add_file(f, dataset="d", run=1)
        writer.record_deletion("/r/x.parquet", size_bytes=1, reason="test")
        # a bulk scan goes by COPY straight into files (ids drawn from the sequence) …
        for k in range(60):
            make_file(tmp_path / "bulk" / f"run2_{k:02d}.csv", f"{k}\n".encode())
        assert len(writer.scan(tmp_path / "bulk", dataset="d")) == 60
        assert writer._copy_ready is None  # the careful way was not needed

    def scan_racing_another_writer(folder, run):
        """Three of 60 files are registered by another writer after scan looked them up
        (the lookup is skipped here, as if it had run just before them): the COPY into
        files then fails on their paths, and the careful way registers the other 57."""
        for k in range(60):
            make_file(tmp_path / folder / f"run{run}_{k:02d}.csv", f"{k}\n".encode())
        with Catalog.open(postgres_server.url(db, "cat_writer")) as other:
            for k in (0, 30, 59):
                other.add_file(tmp_path / folder / f"run{run}_{k:02d}.csv", dataset="d")
        with Catalog.open(postgres_server.url(db, "cat_writer")) as writer:
            writer._not_catalogued = lambda batch: batch
            added = writer.scan(tmp_path / folder, dataset="d")
            assert len(added) == 57
            paths = writer.files(dataset="d")["path"]
            assert paths.is_unique
            return writer._copy_ready, len(paths)

    # … where a path is taken meanwhile, through a temporary table (PUBLIC may create them)
    assert scan_racing_another_writer("bulk2", 3) == (True, 121)
    # … and where a site revoked TEMP, by a multi-row INSERT: same result
    postgres_server.psql(f"REVOKE TEMPORARY ON DATABASE {db} FROM PUBLIC")
    assert scan_racing_another_writer("bulk3", 4) == (False, 181)
    with Catalog.open(postgres_server.url(db, "cat_reader")) as reader:  # not even asked ro
        assert reader.files(run=1)["sha256"].tolist() == [sha256_file(f)]
        with pytest.raises(CatalogError, match="refuses this write"):
            reader.add_run("d", 2, run_type="physics")
        with pytest.raises(CatalogError, match="refuses this write"):
            reader.set_quality("d", 1, "bad")
    # the storage monitor reads the server through the same API, as the read-only role
    _, usage, growth = catalog_storage(postgres_server.url(db, "cat_reader"))
    bulk_bytes = sum(len(f"{k}\n") for k in range(60)) * 3
    assert usage[["dataset", "size_bytes", "n_files"]].values.tolist() == [
        ["d", 2 + bulk_bytes, 181]
    ]
    assert growth["files_added"].sum() == 181
    reader = Catalog.open(postgres_server.url(db, "cat_reader"), readonly=True)
    with reader, pytest.raises(CatalogError, match="open read-only"):
        reader.add_run("d", 2, run_type="physics")


def test_credentials_stay_out_of_command_lines_and_messages(postgres_server, tmp_path):
    db = postgres_server.create_database("creds")
    secret = "s3cret-" + os.urandom(6).hex()
    with_password = f"postgresql://postgres:{secret}@127.0.0.1:{postgres_server.port}/{db}"
    refused = rarehub("catalog", "--db", with_password, "list", "runs")
    assert refused.returncode == 2
    assert "~/.pgpass" in refused.stderr
    assert secret not in refused.stderr + refused.stdout
    url_file = tmp_path / "catalog-url"
    url_file.write_text(f"# the site catalog\n{with_password}\n")
    url_file.chmod(0o644)
    loose = rarehub("catalog", "--db-url-file", str(url_file), "list", "runs")
    assert "readable by others" in loose.stderr
    assert "chmod 600" in loose.stderr
    assert secret not in loose.stderr + loose.stdout
    url_file.chmod(0o600)
    env = {"RAREHUB_CATALOG_URL_FILE": str(url_file), "PGPASSFILE": "/nonexistent"}
    wrong = rarehub("catalog", "init", env=env)  # wrong password: refused, and not shown
    assert wrong.returncode == 2
    assert "password authentication failed" in wrong.stderr
    assert secret not in wrong.stderr + wrong.stdout
    assert f"postgres:***@127.0.0.1:{postgres_server.port}" in wrong.stderr
    url_file.write_text(postgres_server.url(db) + "\n")  # the password from PGPASSFILE
    ok = rarehub("catalog", "init", env={"RAREHUB_CATALOG_URL_FILE": str(url_file)})
    assert ok.returncode == 0, ok.stderr
    assert "schema version 2 (postgresql)" in ok.stdout


def test_a_server_ordering_text_by_language_scans_once_and_orders_paths_by_bytes(
    postgres_server, tmp_path, monkeypatch
):
    """A site's database may sort text as a language does (ICU ``en-US`` here: case and
    "_" barely count). scan then cannot take a range of paths as "those between its ends",
    so it looks each path up, and a second scan still adds nothing; files() and scan's
    answer both order paths by their bytes, as on SQLite."""
    import analysis_lib.catalog.store as store

    db = f"icu_{os.urandom(4).hex()}"
    postgres_server.psql(
        f"CREATE DATABASE {db} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'"
        " LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
    )
    assert postgres_server.psql("SELECT 'run1_B' < 'run1_a'", db).strip() == "f"  # a < B
    monkeypatch.setattr(store, "_SCAN_FIRST_BATCH", 3)
    names = ["run1_B.bin", "run1_a.bin", "run1_a_b.bin", "run1_ab.bin", "run1_a-c.bin"]
    names += [f"run2_{k}.bin" for k in range(7)]
    for k, name in enumerate(names):
        make_file(tmp_path / "data" / name, f"{k}".encode())
    ranges = []
    real_between = store.Catalog._catalogued_between

    def between(self, lo, hi, limit):
        ranges.append((lo, hi))
        return real_between(self, lo, hi, limit)

    monkeypatch.setattr(store.Catalog, "_catalogued_between", between)
    with Catalog.open(postgres_server.url(db)) as cat:
        assert cat._bytewise_paths() is False
        added = cat.scan(tmp_path / "data", dataset="d")
        pd.testing.assert_frame_equal(added, cat.files(dataset="d"))
        run1 = [Path(p).name for p in added["path"]][:5]
        assert run1 == sorted(names[:5], key=str.encode) == [
            "run1_B.bin", "run1_a-c.bin", "run1_a.bin", "run1_a_b.bin", "run1_ab.bin"
        ]  # fmt: skip
        assert cat.scan(tmp_path / "data", dataset="d").empty
        assert len(cat.files(dataset="d")) == len(names)
    assert ranges == []  # never a range: each path looked up
    with Catalog.open(tmp_path / "catalog.sqlite", create=True) as cat:  # bytes, by range
        added = cat.scan(tmp_path / "data", dataset="d")
        assert [Path(p).name for p in added["path"]][:5] == run1
        assert cat.scan(tmp_path / "data", dataset="d").empty
    assert ranges
