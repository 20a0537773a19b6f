"""A catalog on a shared read-only data volume (a cluster mount) opens for queries.

Root ignores file permissions, so as root the reader runs as ``nobody`` (``runuser``); the
folder then is truly unwritable for it, as a read-only mount is for everyone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from analysis_lib.catalog import Catalog
from rarehub_testing import REPO

READER = textwrap.dedent(
    """
    import sys
    from analysis_lib.catalog import Catalog, CatalogError

    path = sys.argv[1]
    with Catalog.open(path, readonly=True) as cat:
        print("runs", len(cat.runs()))
        try:
            cat.set_quality("ge-demo", 1, "bad", ["test"])
        except CatalogError as e:
            print("write refused:", e)
    try:
        Catalog.open(path, create=False)
    except CatalogError as e:
        print("read-write:", e)
    """
)


@pytest.fixture
def readonly_catalog():
    """A catalog with one dataset and run, in a folder nobody but root may write."""
    folder = Path(tempfile.mkdtemp(prefix="rarehub-ro-catalog-"))
    try:
        with Catalog.open(folder / "catalog.sqlite") as cat:
            cat.add_dataset("ge-demo", detector="Ge")
            cat.add_run("ge-demo", 1, run_type="calibration")
        assert sorted(p.name for p in folder.iterdir()) == ["catalog.sqlite"]  # no -wal/-shm
        (folder / "catalog.sqlite").chmod(0o444)
        folder.chmod(0o555)
        yield folder / "catalog.sqlite"
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


@pytest.fixture
def readonly_catalog_with_unmerged_wal(tmp_path):
    """A copy, taken while a writer had it open, whose last change is only in its -wal."""
    folder = Path(tempfile.mkdtemp(prefix="rarehub-ro-catalog-"))
    source = tmp_path / "catalog.sqlite"
    try:
        with Catalog.open(source) as cat:
            cat.add_dataset("ge-demo", detector="Ge")
            for suffix in ("", "-wal"):  # the -shm index is not published
                shutil.copy(f"{source}{suffix}", folder / f"catalog.sqlite{suffix}")
        assert (folder / "catalog.sqlite-wal").stat().st_size > 0
        for p in folder.iterdir():
            p.chmod(0o444)
        folder.chmod(0o555)
        yield folder / "catalog.sqlite"
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


def read_as_another_user(path: Path) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-c", READER, str(path)]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "nobody", "--", *argv]
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    )
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)


def test_readonly_open_works_where_nothing_can_be_written(readonly_catalog):
    result = read_as_another_user(readonly_catalog)
    assert result.returncode == 0, result.stderr
    assert "runs 1" in result.stdout
    assert "write refused:" in result.stdout  # queries only
    # opening it for writing says what is wrong and what to do
    assert "attempt to write a readonly database" in result.stdout
    assert "opens with readonly=True" in result.stdout
    assert sorted(p.name for p in readonly_catalog.parent.iterdir()) == ["catalog.sqlite"]


def test_a_log_the_volume_hides_is_named_not_silently_ignored(readonly_catalog_with_unmerged_wal):
    result = read_as_another_user(readonly_catalog_with_unmerged_wal)
    assert result.returncode != 0
    assert "catalog.sqlite-wal" in result.stderr  # which file, and what to do
    assert "holds changes not yet in the database" in result.stderr
    assert "rarehub catalog list" in result.stderr
