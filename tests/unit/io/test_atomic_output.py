"""Atomic output: a file appears whole or not at all, and an old file survives a failed write."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from analysis_lib.io import ParquetWriter, RawWriter
from analysis_lib.io.atomic import AtomicWriter, atomic_path, atomic_write_text


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_atomic_path_renames_on_success_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent
        assert tmp.name.startswith(".out.txt.")
        tmp.write_text("done")
        assert not target.exists()  # invisible until the block finished
    assert target.read_text() == "done"
    assert _leftovers(target.parent) == []


def test_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = atomic_write_text(tmp_path / "calib.json", "old")

    def crash_while_writing():
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        crash_while_writing()
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def fsync_spy(monkeypatch, target):
    """Record each os.fsync (then really call it): what the descriptor is, what it holds,
    and whether ``target`` exists yet. A spy, not a mock: no other way to see an fsync."""
    calls = []
    real_fsync = os.fsync

    def fsync(fd):
        what = Path(f"/proc/self/fd/{fd}").readlink()
        held = None if what.is_dir() else what.read_text()
        calls.append({"path": what, "content": held, "target_exists": target.exists()})
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return calls


@pytest.mark.parametrize("how", ["text", "writer"])
def test_durable_write_fsyncs_the_data_before_the_rename_and_the_folder_after(
    tmp_path, monkeypatch, how
):
    target = tmp_path / "a.txt"
    calls = fsync_spy(monkeypatch, target)
    if how == "text":
        atomic_write_text(target, "x" * 10_000, durable=True)
    else:

        class TextWriter(AtomicWriter):
            def __init__(self, path):
                super().__init__(path, durable=True)
                self.fh = open(self.tmp, "w")  # noqa: SIM115  (closed in _finish)

            def _finish(self):
                self.fh.close()

        with TextWriter(target) as w:
            w.fh.write("x" * 10_000)
    assert target.read_text() == "x" * 10_000
    data, folder = calls  # exactly two fsyncs
    # the temporary file, whole, before the name points at it …
    assert data["path"].parent == tmp_path
    assert data["path"].name.startswith(".a.txt.")
    assert data["content"] == "x" * 10_000
    assert not data["target_exists"]
    # … then the folder, once the new name is in it
    assert folder["path"] == tmp_path
    assert folder["target_exists"]


def test_a_write_that_is_not_durable_does_not_fsync(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"
    calls = fsync_spy(monkeypatch, target)
    atomic_write_text(target, "x")
    assert calls == []


def test_parquet_writer_discards_everything_on_an_exception(tmp_path):
    target = tmp_path / "features.parquet"

    def crash_mid_run():
        with ParquetWriter(target) as w:
            w.write(pd.DataFrame({"energy_keV": [1.0, 2.0]}))
            raise KeyError("crash mid-run")

    with pytest.raises(KeyError):
        crash_mid_run()
    assert not target.exists()
    assert _leftovers(tmp_path) == []


def test_parquet_writer_with_nothing_written_names_the_file_and_leaves_nothing(tmp_path):
    target = tmp_path / "empty.parquet"
    w = ParquetWriter(target)
    with pytest.raises(ValueError, match=r"empty\.parquet: nothing was written"):
        w.close()
    assert list(tmp_path.iterdir()) == []


def test_parquet_writer_commits_all_chunks(tmp_path):
    target = tmp_path / "f.parquet"
    with ParquetWriter(target) as w:
        for i in range(3):
            w.write(pd.DataFrame({"i": np.arange(i * 10, i * 10 + 10)}))
    assert pq.read_table(target).column("i").to_pylist() == list(range(30))
    with pytest.raises(ValueError, match="already closed"):
        w.close()


def test_raw_writer_that_cannot_store_an_attribute_leaves_no_file(tmp_path):
    target = tmp_path / "run.h5"
    with pytest.raises(TypeError):
        RawWriter(target, sample_rate_Hz=625e3, channels=["A"], attrs={"bad": object()})
    assert list(tmp_path.iterdir()) == []


def test_writer_subclass_contract(tmp_path):
    class Lines(AtomicWriter):
        def __init__(self, path):
            super().__init__(path)
            self._fh = open(self.tmp, "w")  # noqa: SIM115 - closed in _finish/_discard

        def _finish(self):
            self._fh.close()

        def _discard(self):
            self._fh.close()

    with Lines(tmp_path / "ok.txt") as w:
        w._fh.write("a\n")
    assert (tmp_path / "ok.txt").read_text() == "a\n"
    w = Lines(tmp_path / "aborted.txt")
    w.abort()
    w.abort()  # idempotent
    assert not (tmp_path / "aborted.txt").exists()
    assert _leftovers(tmp_path) == []
