"""Five defects a code read found in the SQLite-only catalog, each pinned by a test.

- ``scan`` hashed every file inside ``BEGIN IMMEDIATE``: other writers timed out meanwhile;
- ``files()`` built its filters apart from ``runs()`` and accepted a misspelt run type;
- ``file()`` loaded the whole files table to find one row;
- ``open(create=True)`` silently created an empty catalog at a mistyped path;
- stored paths were textual: ``/cat/link/../x`` was stored as ``x``, another file.
"""

from __future__ import annotations

import sqlite3

import pytest

from analysis_lib.catalog import Catalog, CatalogError, hashing, sha256_file
from rarehub_testing import make_file


def test_another_writer_can_commit_while_scan_hashes(catalog_target, tmp_path, monkeypatch):
    """While ``scan`` reads and hashes a file, a second writer commits within 0.5 s.

    The hash function is wrapped (instrumentation, not a stand-in: it still hashes) so that
    the probe runs exactly while a file is being hashed.
    """
    data = tmp_path / "data"
    for n in range(3):
        make_file(data / f"run{n}.csv", b"1,2,3\n" * 100)
    probes = []
    real_hash = hashing.scan_hash  # what scan hashes each file with (in this process: a small scan)

    def hash_with_probe(path, **kwargs):
        try:
            with Catalog.open(catalog_target, timeout_s=0.5) as other:
                other.add_dataset(f"probe-{len(probes)}")
            probes.append("committed")
        except CatalogError as e:
            probes.append(f"blocked: {e}")
        return real_hash(path, **kwargs)

    with Catalog.open(catalog_target) as cat:
        monkeypatch.setattr(hashing, "scan_hash", hash_with_probe)
        added = cat.scan(data, dataset="d", run_type="physics")
        monkeypatch.undo()
        assert len(added) == 3
        assert probes == ["committed"] * 3
        assert {f"probe-{i}" for i in range(3)} <= set(cat.datasets()["dataset"])
        assert added["sha256"].tolist() == [sha256_file(data / f"run{n}.csv") for n in range(3)]


def test_runs_and_files_share_one_filter_and_refuse_misspelt_values(cat, tmp_path):
    cat.add_dataset("d", detector="ge1")
    spec = [(1, "physics", "good"), (2, "physics", "bad"), (3, "calibration", "good")]
    for n, kind, q in spec:
        start = f"2026-01-0{n}T00:00:00"
        cat.add_run("d", n, run_type=kind, quality=q, start=start, end=f"2026-01-0{n}T06:00:00")
        cat.add_file(make_file(tmp_path / f"run{n}.csv", f"{n}\n".encode()), dataset="d", run=n)
    for method in (cat.files, cat.runs):
        with pytest.raises(CatalogError, match=r"run_type 'phyiscs' not in \('physics'"):
            method(run_type="phyiscs")
        with pytest.raises(CatalogError, match=r"quality 'gud' not in \('good'"):
            method(quality=["good", "gud"])
        with pytest.raises(CatalogError, match="run 'one' is not an integer"):
            method(run="one")
    conditions = [
        {"run_type": "physics", "quality": "good"},
        {"run_type": ["physics", "calibration"]},
        {"quality": "good", "start": "2026-01-02T12:00:00"},
        {"end": "2026-01-02T03:00:00", "run": [1, 2, 3]},
    ]
    for where in conditions:
        runs = cat.runs(**where)
        files = cat.files(**where)
        assert sorted(files["run_number"]) == sorted(runs["run_number"]), where
    assert cat.files(run_type="physics", quality="good")["run_number"].tolist() == [1]


def _vm_steps(raw: sqlite3.Connection, call) -> int:
    """SQLite virtual-machine instructions executed by ``call()`` (counted in blocks of 100)."""
    steps = [0]

    def count():
        steps[0] += 100
        return 0

    raw.set_progress_handler(count, 100)
    try:
        call()
    finally:
        raw.set_progress_handler(None, 0)
    return steps[0]


def test_file_lookup_does_not_grow_with_the_catalog(tmp_path):
    """``file(path)`` costs the same in a catalog of 200 and of 20 000 files: one index probe."""
    steps = {}
    for n in (200, 20_000):
        folder = tmp_path / f"n{n}"
        folder.mkdir()
        with Catalog.open(folder / "catalog.sqlite") as cat:
            cat.add_dataset("d")
            target = make_file(folder / "target.csv", b"x\n")
            cat.add_file(target, dataset="d")
        raw_writer = sqlite3.connect(folder / "catalog.sqlite")
        with raw_writer:  # the other rows only need to exist: insert them directly
            raw_writer.executemany(
                "INSERT INTO files (dataset_id, path, volume, size_bytes, sha256, format,"
                " added_utc, metadata) VALUES (1, ?, '/', 1, 'x', 'csv', '2026-01-01', '{}')",
                [(f"other/{i:06d}.csv",) for i in range(n)],
            )
        raw_writer.close()
        with Catalog.open(folder / "catalog.sqlite", readonly=True) as cat:
            raw = cat._dbapi() if hasattr(cat, "_dbapi") else cat._conn
            steps[n] = _vm_steps(raw, lambda cat=cat, t=target: cat.file(t))
            assert cat.file(target)["sha256"] == sha256_file(target)
    assert steps[20_000] < 2 * steps[200] + 1000, steps


def test_open_does_not_create_a_catalog_in_a_mistyped_folder(tmp_path):
    (tmp_path / "demo-data").mkdir()
    typo = tmp_path / "dmeo-data" / "catalog.sqlite"
    with pytest.raises(CatalogError, match=r"the folder .*dmeo-data does not exist"):
        Catalog.open(typo)
    assert not (tmp_path / "dmeo-data").exists()
    with Catalog.open(tmp_path / "demo-data" / "catalog.sqlite") as cat:  # a real folder: made
        assert cat.datasets().empty


def test_stored_paths_follow_the_file_system_not_the_text(tmp_path):
    """``catalog/../x`` is outside the folder (stored absolute, survives a move of the folder);
    ``catalog/link/../b.csv`` is the ``b.csv`` beside the link's target; one file spelt two
    ways is one file."""
    root = tmp_path / "catalog"
    elsewhere = tmp_path / "deep" / "elsewhere"
    elsewhere.mkdir(parents=True)
    (root / "sub").mkdir(parents=True)
    (root / "link").symlink_to(elsewhere)
    beside_target = make_file(tmp_path / "deep" / "b.csv", b"beside the link's target\n")
    inside = make_file(root / "b.csv", b"inside the catalog folder\n")
    outside = make_file(tmp_path / "outside.csv", b"outside\n")
    with Catalog.open(root / "catalog.sqlite") as cat:
        cat.add_dataset("d")
        cat.add_file(root / "link" / ".." / "b.csv", dataset="d")
        cat.add_file(root / "sub" / ".." / "b.csv", dataset="d")
        cat.add_file(root / ".." / "outside.csv", dataset="d")
        assert sorted(cat.files()["path"]) == sorted(map(str, [beside_target, inside, outside]))
        with pytest.raises(CatalogError, match="already in the catalog"):
            cat.add_file(root / "link" / ".." / ".." / "catalog" / "b.csv", dataset="d")
        assert cat.file(root / "sub" / ".." / "link" / ".." / "b.csv")["path"] == str(beside_target)
    stored = sqlite3.connect(root / "catalog.sqlite").execute("SELECT path FROM files").fetchall()
    assert sorted(p for (p,) in stored) == sorted([str(beside_target), str(outside), "b.csv"])
    moved = root.rename(tmp_path / "moved")
    with Catalog.open(moved / "catalog.sqlite") as cat:
        status = dict(zip(cat.verify()["path"], cat.verify()["status"], strict=True))
    assert status[str(outside)] == "ok"
    assert status[str(moved / "b.csv")] == "ok"
