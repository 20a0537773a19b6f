import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis_lib.catalog import Catalog, CatalogError, read_runlist, sha256_file, write_runlist
from rarehub_testing import make_file

# ``cat`` (conftest.py) is a fresh catalog in each backend: SQLite and PostgreSQL.


def test_database_is_wal_and_plain_sqlite(tmp_path):
    with Catalog.open(tmp_path / "catalog.sqlite") as cat:
        cat.add_dataset("ge1-2026", detector="ge1")
    con = sqlite3.connect(cat.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT name FROM datasets").fetchall() == [("ge1-2026",)]


def test_query_good_physics_runs_of_a_detector_between_dates(cat):
    cat.add_dataset("ge1-2026", detector="ge1")
    cat.add_dataset("csi-2026", detector="csi")
    spec = [
        ("ge1-2026", 1, "physics", "2026-01-02", "good"),
        ("ge1-2026", 2, "physics", "2026-01-10", "bad"),
        ("ge1-2026", 3, "calibration", "2026-01-11", "good"),
        ("ge1-2026", 4, "physics", "2026-02-15", "good"),
        ("csi-2026", 1, "physics", "2026-01-05", "good"),
    ]
    for ds, n, kind, day, q in spec:
        start = pd.Timestamp(day, tz="UTC")
        cat.add_run(ds, n, run_type=kind, start=start, end=start + pd.Timedelta("2h"), quality=q)
    runs = cat.runs(
        detector="ge1", run_type="physics", quality="good", start="2026-01-01", end="2026-02-01"
    )
    assert list(runs["run_number"]) == [1]
    assert runs["start_utc"].dt.tz is not None
    assert set(cat.runs(detector="ge1")["run_number"]) == {1, 2, 3, 4}
    assert list(cat.runs(dataset="csi-2026")["detector"]) == ["csi"]


def test_files_record_size_sha256_format_and_relative_paths(cat, tmp_path):
    cat.add_dataset("ge1-2026", detector="ge1")
    cat.add_run("ge1-2026", 7, run_type="noise", start="2026-01-01T00:00:00")
    f = make_file(tmp_path / "raw" / "run7.h5", b"x" * 3000)
    cat.add_file(f, dataset="ge1-2026", run=7, metadata={"channels": 4})
    row = cat.files().iloc[0]
    assert row["size_bytes"] == 3000
    assert row["sha256"] == sha256_file(f)
    assert row["format"] == "hdf5"
    assert row["metadata"] == {"channels": 4}
    assert row["run_type"] == "noise"
    if cat.backend == "sqlite":
        stored = sqlite3.connect(cat.path).execute("SELECT path FROM files").fetchone()[0]
        assert stored == "raw/run7.h5", "paths inside the catalog folder are stored relative"
    else:  # a server has no folder: paths are absolute
        assert row["path"] == str(f.resolve())


def test_catalog_folder_can_be_moved_as_a_whole(tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    with Catalog.open(a / "catalog.sqlite") as c:
        c.add_dataset("d")
        c.add_file(make_file(a / "x.csv", b"1,2\n"), dataset="d")
    (a).rename(tmp_path / "b")
    with Catalog.open(tmp_path / "b" / "catalog.sqlite") as c:
        assert c.verify()["status"].tolist() == ["ok"]


def test_simulated_dataset_records_generator_version_and_configuration(cat):
    cat.add_dataset(
        "csi-nest",
        detector="csi",
        generator="NEST",
        generator_version="2.4.0",
        generator_config={"field_V_per_cm": 0, "n_events": 1000},
    )
    ds = cat.datasets().iloc[0]
    assert ds["simulated"]
    assert ds["generator"] == "NEST"
    assert ds["generator_config"]["n_events"] == 1000


def test_verify_finds_missing_truncated_and_corrupted_files(cat, tmp_path):
    cat.add_dataset("d")
    paths = [make_file(tmp_path / f"f{i}.bin", bytes(range(200)) * 10) for i in range(4)]
    for p in paths:
        cat.add_file(p, dataset="d")
    paths[1].unlink()
    paths[2].write_bytes(b"short")
    data = bytearray(paths[3].read_bytes())
    data[100] ^= 0xFF
    paths[3].write_bytes(bytes(data))
    status = dict(zip(cat.verify()["path"], cat.verify()["status"], strict=True))
    assert status == {
        str(paths[0]): "ok",
        str(paths[1]): "missing",
        str(paths[2]): "size-mismatch",
        str(paths[3]): "checksum-mismatch",
    }


def test_growth_is_bytes_per_day_per_dataset(cat, tmp_path):
    cat.add_dataset("d")
    for i, day in enumerate(["2026-01-01", "2026-01-01", "2026-01-03"]):
        cat.add_file(
            make_file(tmp_path / f"{i}.csv", b"a" * (100 * (i + 1))),
            dataset="d",
            added=f"{day}T12:00:00",
        )
    g = cat.growth()
    assert g["bytes_added"].tolist() == [300, 300]
    assert g["files_added"].tolist() == [2, 1]
    assert g["cumulative_bytes"].tolist() == [300, 600]


@pytest.mark.parametrize("suffix", [".csv", ".yaml"])
def test_runlist_round_trip_selects_the_same_runs(cat, tmp_path, suffix):
    cat.add_dataset("d", detector="ge1")
    for n in range(1, 6):
        cat.add_run(
            "d", n, run_type="physics", quality="good" if n % 2 else "bad", start=f"2026-01-0{n}"
        )
    good = cat.runs(quality="good")
    path = write_runlist(good, tmp_path / f"good{suffix}")
    back = read_runlist(path)
    assert back["run_number"].tolist() == [1, 3, 5]
    assert cat.runs(runlist=path)["run_number"].tolist() == [1, 3, 5]
    assert not list(tmp_path.glob("*.tmp"))


def test_bad_inputs_name_what_is_wrong(cat, tmp_path):
    with pytest.raises(CatalogError, match="unknown dataset 'nope'"):
        cat.add_run("nope", 1, run_type="physics")
    cat.add_dataset("d")
    with pytest.raises(CatalogError, match="run_type 'physic'"):
        cat.add_run("d", 1, run_type="physic")
    with pytest.raises(CatalogError, match="no such file"):
        cat.add_file(tmp_path / "absent.h5", dataset="d")
    with pytest.raises(CatalogError, match="no run 9"):
        cat.add_file(make_file(tmp_path / "x.h5", b"1"), dataset="d", run=9)
    with pytest.raises(CatalogError, match="infer the format"):
        cat.add_file(make_file(tmp_path / "x.weird", b"1"), dataset="d")
    bad = tmp_path / "bad.yaml"
    bad.write_text("runs:\n  - {dataset: d, run_number: seven}\n")
    with pytest.raises(CatalogError, match=r"bad.yaml: entry 0 has run_number 'seven'"):
        read_runlist(bad)
    (tmp_path / "cols.csv").write_text("dataset,run\nd,1\n")
    with pytest.raises(CatalogError, match=r"missing column\(s\) \['run_number'\]"):
        read_runlist(tmp_path / "cols.csv")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CatalogError, match="not a usable catalog"):
        Catalog.open(junk)


def test_failed_transaction_leaves_nothing_behind(cat, tmp_path):
    cat.add_dataset("d")

    def two_runs_second_duplicate():
        with cat.transaction():
            cat.add_run("d", 1, run_type="physics")
            cat.add_run("d", 1, run_type="physics")  # duplicate: the whole group is undone

    with pytest.raises(CatalogError, match="already exists"):
        two_runs_second_duplicate()
    assert cat.runs().empty


WRITER = textwrap.dedent(
    """
    import sys
    from analysis_lib.catalog import Catalog
    cat = Catalog.open(sys.argv[1])
    with cat.transaction():
        for n in range(100, 1600):  # ~45 MB: more than the page cache (32 MiB) holds
            cat.add_run("d", n, run_type="physics", metadata={"pad": "x" * 30_000})
        print("inside", flush=True)
        sys.stdin.readline()  # parent kills us here, mid-transaction
    """
)


def test_kill_9_mid_transaction_leaves_catalog_consistent(tmp_path):
    db = tmp_path / "catalog.sqlite"
    with Catalog.open(db) as c:
        c.add_dataset("d")
        c.add_run("d", 1, run_type="physics")
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "inside"
        assert (tmp_path / "catalog.sqlite-wal").stat().st_size > 100_000, (
            "the writer must have spilled uncommitted pages into the WAL"
        )
        proc.kill()  # SIGKILL
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
        proc.stdout.close()
    with Catalog.open(db) as c:
        assert c.integrity_check() == "ok"
        assert c.runs()["run_number"].tolist() == [1]
        c.add_run("d", 2, run_type="noise")  # and it is writable again
        assert c.runs()["run_number"].tolist() == [1, 2]


RUN = st.tuples(
    st.sampled_from(["ge1", "ge2", "csi"]),
    st.sampled_from(["physics", "calibration", "noise"]),
    st.sampled_from(["good", "bad", "unknown"]),
    st.integers(0, 60),  # start day offset
    st.integers(1, 72),  # duration, hours
)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same cases every run: no flaky CI
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    runs=st.lists(RUN, min_size=0, max_size=15),
    query=st.tuples(
        st.sampled_from([None, "ge1", "csi"]),
        st.sampled_from([None, "physics", "noise"]),
        st.sampled_from([None, "good"]),
        st.integers(0, 70),
        st.integers(1, 40),
    ),
)
def test_query_matches_a_plain_filter_of_what_was_added(tmp_path_factory, runs, query):
    db = tmp_path_factory.mktemp("prop") / "c.sqlite"
    t0 = pd.Timestamp("2026-01-01", tz="UTC")
    expected = []
    with Catalog.open(db) as c:
        c.add_dataset("d")
        for n, (det, kind, q, day, hours) in enumerate(runs):
            s = t0 + pd.Timedelta(days=day)
            e = s + pd.Timedelta(hours=hours)
            c.add_run("d", n, detector=det, run_type=kind, quality=q, start=s, end=e)
            expected.append((n, det, kind, q, s, e))
        det, kind, q, qday, qlen = query
        qs, qe = t0 + pd.Timedelta(days=qday), t0 + pd.Timedelta(days=qday + qlen)
        got = c.runs(detector=det, run_type=kind, quality=q, start=qs, end=qe)
    want = {
        n
        for n, d_, k_, q_, s, e in expected
        if (det is None or d_ == det)
        and (kind is None or k_ == kind)
        and (q is None or q_ == q)
        and e > qs
        and s < qe
    }
    assert set(got["run_number"]) == want
    assert json.dumps(sorted(want))  # the query result is a plain list of ints


CONCURRENT_WRITER = textwrap.dedent(
    """
    import sys
    from analysis_lib.catalog import Catalog
    cat = Catalog.open(sys.argv[1])
    base = int(sys.argv[2])
    for n in range(base, base + 20):
        cat.add_run("d", n, run_type="physics")
    """
)


def test_concurrent_writers_in_separate_processes_all_land(tmp_path):
    db = tmp_path / "catalog.sqlite"
    with Catalog.open(db) as c:
        c.add_dataset("d")
    procs = [
        subprocess.Popen([sys.executable, "-c", CONCURRENT_WRITER, str(db), str(base)])
        for base in (0, 1000, 2000)
    ]
    with Catalog.open(db) as reader:
        while any(p.poll() is None for p in procs):
            assert reader.integrity_check() == "ok"  # readers are never blocked or torn
            time.sleep(0.05)
        assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
        assert len(reader.runs()) == 60


def test_readonly_catalog_answers_queries_and_refuses_writes(tmp_path):
    db = tmp_path / "catalog.sqlite"
    with Catalog.open(db) as c:
        c.add_dataset("d")
        c.add_run("d", 1, run_type="physics")
    with Catalog.open(db, readonly=True) as ro:
        assert ro.runs()["run_number"].tolist() == [1]
        with pytest.raises(CatalogError, match="open read-only"):
            ro.add_run("d", 2, run_type="physics")
    with pytest.raises(CatalogError, match="no catalog at"):
        Catalog.open(tmp_path / "absent.sqlite", readonly=True)


@pytest.mark.parametrize("pattern", ["**/*", "*.bin", "**/run[13].bin", "sub/*.bin"])
def test_scan_registers_what_glob_lists_and_never_follows_a_swapped_link_or_blocks(
    tmp_path, pattern
):
    """scan lists ``NAME`` and ``**/NAME`` with os.scandir (other patterns with glob): the
    same files pathlib's glob yields — hidden files, subfolders, a symlinked file (resolved),
    not a symlinked folder's content, a FIFO or a folder named like a file."""
    import os

    from analysis_lib.catalog import hashing

    data = tmp_path / "data"
    for rel in ("run1.bin", ".run2.bin", "sub/run3.bin", "sub/deeper/run4.csv", "run8.txt"):
        make_file(data / rel, rel.encode())
    outside = make_file(tmp_path / "outside" / "run5.bin", b"outside")
    (data / "run5.bin").symlink_to(outside)
    (data / "linkdir").symlink_to(data / "sub", target_is_directory=True)
    os.mkfifo(data / "fifo6.bin")
    (data / "dir7.bin").mkdir()
    expected = {
        os.path.realpath(p)
        for p in data.glob(pattern)
        if p.is_file() and p.suffix in (".bin", ".csv")
    }
    assert expected, pattern
    with Catalog.open(tmp_path / "catalog.sqlite") as cat:
        added = cat.scan(data, dataset="d", pattern=pattern)
    assert {os.path.realpath(p) for p in added["path"]} == expected
    assert not any("linkdir" in p for p in added["path"])
    for path, sha, size in zip(added["path"], added["sha256"], added["size_bytes"], strict=True):
        assert (sha, size) == (sha256_file(path), Path(path).stat().st_size)
    # A regular file swapped for a symlink after the listing is not followed.
    assert hashing.scan_hash(str(data / "run5.bin")) is None
    assert hashing.scan_hash(str(data / "run5.bin"), follow=True)[0] == sha256_file(outside)
    assert hashing.scan_hash(str(data / "fifo6.bin")) is None


def test_a_big_scan_hashes_in_helper_processes_with_the_same_answer(
    catalog_target, tmp_path, monkeypatch
):
    """Several batches: helper processes hash (hashing.py) while the catalog registers; the
    answer is the one hashing in this process gives, file by file."""
    import analysis_lib.catalog.store as store

    monkeypatch.setattr(store, "_SCAN_FIRST_BATCH", 4)
    monkeypatch.setattr(store, "_SCAN_BATCH", 4)
    data = tmp_path / "data"
    for k in range(23):
        make_file(data / f"run{k % 3}_{k:03d}.bin", os.urandom(100 + k))
    started = []
    real_pipeline = store.HashPipeline

    def counting_pipeline(helpers, **kwargs):
        started.append(helpers)
        return real_pipeline(helpers, **kwargs)

    monkeypatch.setattr(store, "HashPipeline", counting_pipeline)
    monkeypatch.setattr(store, "_scan_helpers", lambda: 2)
    with Catalog.open(catalog_target) as cat:
        added = cat.scan(data, dataset="d")
        assert started == [2]
        assert len(added) == 23
        for path, sha, size in zip(
            added["path"], added["sha256"], added["size_bytes"], strict=True
        ):
            assert (sha, size) == (sha256_file(path), Path(path).stat().st_size)
        assert added["run_number"].tolist() == sorted(added["run_number"].tolist())
        assert set(added["run_type"]) == {"physics"}
        files = cat.files(dataset="d")
        assert sorted(files["file_id"]) == sorted(added["file_id"])
        assert (
            files.set_index("path")["sha256"].to_dict()
            == added.set_index("path")["sha256"].to_dict()
        )
        assert cat.scan(data, dataset="d").empty  # a second scan adds nothing


def test_a_helper_that_dies_is_replaced_by_hashing_here(tmp_path):
    from analysis_lib.catalog.hashing import HashPipeline, hash_batch

    files = [make_file(tmp_path / f"f{k}.bin", os.urandom(50 * k)) for k in range(6)]
    items = [(str(f), False) for f in files]
    with HashPipeline(1) as pipeline:
        assert pipeline.submit("a", items[:3]) == []  # sent to the helper
        helper = pipeline._helpers[0]
        helper.proc.kill()
        helper.proc.wait()
        done = pipeline.submit("b", items[3:]) + pipeline.drain()
        assert not pipeline._helpers  # the dead helper is gone
    assert [key for key, _ in done] == ["a", "b"]
    assert [h for _, hashes in done for h in hashes] == hash_batch(items)
    assert [h[0] for h in hash_batch(items)] == [sha256_file(f) for f in files]


def test_a_scan_of_big_files_registers_in_small_batches(tmp_path, monkeypatch):
    """Batches are bounded in bytes too: a scan of big files commits as it goes instead of
    hashing thousands of them before its first transaction."""
    import analysis_lib.catalog.store as store

    monkeypatch.setattr(store, "_SCAN_FIRST_BATCH", 4)
    monkeypatch.setattr(store, "_SCAN_BATCH_BYTES", 3000)  # three 1000-byte files
    for k in range(20):
        make_file(tmp_path / "data" / f"run1_{k:02d}.bin", os.urandom(1000))
    sizes = []
    real = store.Catalog._register_scanned

    def counting(self, result, **kwargs):
        sizes.append(len(result[0]))  # the batch's files, as columns
        return real(self, result, **kwargs)

    monkeypatch.setattr(store.Catalog, "_register_scanned", counting)
    with Catalog.open(tmp_path / "catalog.sqlite", create=True) as cat:
        assert len(cat.scan(tmp_path / "data", dataset="d")) == 20
    assert sum(sizes) == 20
    # 4 (the first), then 3 once the first batch's bytes per file are known (the second may
    # still be 4 if sent before); without the bound in bytes: 4, then all 16 at once
    assert max(sizes) == 4, sizes
    assert sizes.count(3) >= 3, sizes


def test_file_names_with_every_awkward_character_survive_a_bulk_scan(catalog_target, tmp_path):
    """Enough files that PostgreSQL takes the COPY path (CSV quoting) and SQLite a big
    executemany: names with commas, quotes, tabs, newlines, backslashes, CR and non-ASCII
    come back exactly, and an empty-looking field is never read as NULL."""
    import analysis_lib.catalog.store as store

    data = tmp_path / "data"
    awkward = ['run1_a,b', 'run1_"q"', "run1_t\tab", "run1_new\nline", "run1_back\\slash",
               "run1_cr\rx", "run1_ünï €", "run1_ \\N ", "run1_'"]  # fmt: skip
    names = [f"{a}.bin" for a in awkward] + [f"run2_{k:03d}.bin" for k in range(60)]
    assert len(names) >= store._COPY_MIN_ROWS
    for k, name in enumerate(names):
        make_file(data / name, f"{k}".encode())
    with Catalog.open(catalog_target) as cat:
        added = cat.scan(data, dataset="d")
        files = cat.files(dataset="d")
    expected = {os.path.realpath(data / n) for n in names}
    assert set(added["path"]) == expected
    assert set(files["path"]) == expected
    for path, sha in zip(files["path"], files["sha256"], strict=True):
        assert sha == sha256_file(path)
    assert files["start_utc"].isna().all()
    assert files["metadata"].map(lambda m: m == {}).all()


def test_what_scan_returns_is_what_files_answers(tmp_path, monkeypatch):
    """scan builds its answer from what it inserted (no second query): it must equal
    files() for those files, column for column and dtype for dtype."""
    import analysis_lib.catalog.store as store

    monkeypatch.setattr(store, "_SCAN_FIRST_BATCH", 5)
    data = tmp_path / "data"
    for k in range(17):
        make_file(data / f"run{k % 4}_{k:02d}.bin", os.urandom(10 + k))
    make_file(data / "no-run-here.csv", b"1\n")  # no run number: NULL run, first in order
    (tmp_path / "elsewhere").mkdir()
    outside = make_file(tmp_path / "elsewhere" / "run9_x.bin", b"x")
    (data / "run9_x.bin").symlink_to(outside)  # followed: stored absolute
    with Catalog.open(tmp_path / "catalog.sqlite", create=True) as cat:
        cat.add_dataset("d", detector="ge1")
        cat.add_run("d", 2, run_type="calibration", detector="ge2")  # exists: kept as it is
        added = cat.scan(data, dataset="d")
        pd.testing.assert_frame_equal(added, cat.files(dataset="d"))
    assert len(added) == 19
    assert added["run_type"].tolist().count("calibration") == 4


@pytest.mark.parametrize("interpreter", ["/nonexistent/python3", None])
def test_without_an_interpreter_to_start_a_scan_hashes_here(tmp_path, monkeypatch, interpreter):
    """An embedded Python (``sys.executable`` empty or None) or a missing interpreter: no
    helper starts, and the scan still hashes every file, in this process."""
    import analysis_lib.catalog.store as store
    from analysis_lib.catalog.hashing import HashPipeline

    monkeypatch.setattr(sys, "executable", interpreter)
    with HashPipeline(2) as pipeline:
        assert pipeline._helpers == []
    monkeypatch.setattr(store, "_SCAN_FIRST_BATCH", 2)
    monkeypatch.setattr(store, "_scan_helpers", lambda: 2)
    for k in range(7):
        make_file(tmp_path / "data" / f"run1_{k}.bin", os.urandom(20))
    with Catalog.open(tmp_path / "catalog.sqlite", create=True) as cat:
        added = cat.scan(tmp_path / "data", dataset="d")
    assert len(added) == 7
    for path, sha in zip(added["path"], added["sha256"], strict=True):
        assert sha == sha256_file(path)


def test_a_file_name_that_is_not_utf8_is_skipped_with_a_warning_not_a_failed_scan(
    catalog_target, tmp_path
):
    """Anyone who may write into a scanned folder can create a name of arbitrary bytes; the
    catalog stores text, so that file is named in a warning and the others are registered."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "run1_ok.bin").write_bytes(b"ok")
    with open(os.fsencode(data) + b"/run1_\xff\xfe.bin", "wb") as f:
        f.write(b"bad")
    with Catalog.open(catalog_target) as cat:
        with pytest.warns(
            UserWarning, match=r"1 file\(s\) skipped.*not valid UTF-8.*run1_\\xff\\xfe\.bin"
        ):
            added = cat.scan(data, dataset="d")
        assert [Path(p).name for p in added["path"]] == ["run1_ok.bin"]
        assert len(cat.files(dataset="d")) == 1


def test_a_scan_among_many_catalogued_files_looks_up_only_its_own(
    catalog_target, tmp_path, monkeypatch
):
    """scan asks for the catalogued paths between a batch's first and last; where that range
    holds far more than the batch (here 300 catalogued CSV files between two new .bin
    files), it looks up just the batch's paths instead of reading them all."""
    import analysis_lib.catalog.store as store

    data = tmp_path / "data"
    for k in range(300):
        make_file(data / f"m{k:03d}.csv", f"{k}".encode())
    make_file(data / "a_run1.bin", b"a")
    make_file(data / "z_run1.bin", b"z")
    looked_up = []
    real = store.Catalog._catalogued

    def catalogued(self, stored):
        looked_up.append(len(stored))
        return real(self, stored)

    with Catalog.open(catalog_target) as cat:
        assert len(cat.scan(data, dataset="d", pattern="*.csv")) == 300
        monkeypatch.setattr(store.Catalog, "_catalogued", catalogued)
        added = cat.scan(data, dataset="d", pattern="*.bin")
        assert [Path(p).name for p in added["path"]] == ["a_run1.bin", "z_run1.bin"]
        assert looked_up == [2]
        assert cat.scan(data, dataset="d").empty  # everything known: nothing hashed again
        assert len(cat.files(dataset="d")) == 302


def test_a_scan_inside_a_transaction_is_part_of_it(catalog_target, tmp_path, monkeypatch):
    """scan inside the caller's transaction joins it: several batches (each of which would
    be a transaction of its own) all go, or none does."""
    import analysis_lib.catalog.store as store

    monkeypatch.setattr(store, "_SCAN_FIRST_BATCH", 4)
    monkeypatch.setattr(store, "_SCAN_BATCH", 4)
    for k in range(10):
        make_file(tmp_path / "data" / f"run{k % 2}_{k}.bin", os.urandom(30))
    with Catalog.open(catalog_target) as cat:
        cat.add_dataset("d")
        seen = []

        def scan_then_change_mind():
            with cat.transaction():
                seen.append(len(cat.scan(tmp_path / "data", dataset="d")))
                raise RuntimeError("changed my mind")

        with pytest.raises(RuntimeError, match="changed my mind"):
            scan_then_change_mind()
        assert seen == [10]
        assert cat.files(dataset="d").empty
        assert cat.runs(dataset="d").empty
        with cat.transaction():
            assert len(cat.scan(tmp_path / "data", dataset="d")) == 10
        assert len(cat.files(dataset="d")) == 10


@pytest.mark.parametrize("n_files", [3, 80])  # hashed here; hashed by a helper process
def test_a_run_pattern_that_takes_no_number_is_named_with_the_file(
    tmp_path, monkeypatch, capfd, n_files
):
    import analysis_lib.catalog.store as store

    monkeypatch.setattr(store, "_scan_helpers", lambda: 1)
    for k in range(n_files):
        make_file(tmp_path / "data" / f"run_{k:03d}.bin", b"x")
    make_file(tmp_path / "data" / "run_abc.bin", b"y")
    with Catalog.open(tmp_path / "catalog.sqlite", create=True) as cat:
        with pytest.raises(CatalogError, match=r"run_abc\.bin: the run pattern .* takes 'abc'"):
            cat.scan(tmp_path / "data", dataset="d", run_regex=r"run_(\w+)")
        with pytest.raises(CatalogError, match="has no group"):
            cat.scan(tmp_path / "data", dataset="d", run_regex=r"run_\d+")
        with pytest.raises(CatalogError, match="is not a pattern"):
            cat.scan(tmp_path / "data", dataset="d", run_regex=r"run_(\d+")
        # an optional group that took nothing: no run, as with no match (and the batches
        # registered before the error above were kept: this adds the rest)
        added = cat.scan(tmp_path / "data", dataset="d", run_regex=r"run_(\d+)?abc")
        assert "run_abc.bin" in {Path(p).name for p in added["path"]}
        assert added["run_number"].isna().all()
        assert len(cat.files(dataset="d")) == n_files + 1
    assert "Traceback" not in capfd.readouterr().err  # the helper does not crash


def test_scan_points_to_ingest_for_the_real_supercdms_file(tmp_path):
    """The real SuperCDMS MIDAS file is not scan's to register (``rarehub ingest`` reads its
    run facts): scan says so, naming it and the command, and registers the rest."""
    import shutil

    from analysis_lib.io.scdms import FORMATS

    data = tmp_path / "raw"
    data.mkdir()
    shutil.copy(FORMATS / "51230216_125838_F0001.mid.gz", data)
    make_file(data / "run51230216_notes.csv", b"a,b\n1,2\n")
    with Catalog.open(tmp_path / "catalog.sqlite", create=True) as cat:
        with pytest.warns(
            UserWarning,
            match=r"1 SuperCDMS MIDAS file\(s\) not registered \(e\.g\. .*/raw/"
            r"51230216_125838_F0001\.mid\.gz\): `rarehub ingest --db … --dataset tf FILE…`",
        ):
            added = cat.scan(data, dataset="tf")
        assert [Path(p).name for p in added["path"]] == ["run51230216_notes.csv"]
