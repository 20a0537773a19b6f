from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analysis_lib.apps.sample import make_sample_catalog


@pytest.fixture(scope="session")
def sample_catalog_master(tmp_path_factory) -> Path:
    return make_sample_catalog(tmp_path_factory.mktemp("apps-sample"), n_runs=3, n_events=30)


@pytest.fixture
def sample_catalog(sample_catalog_master, tmp_path) -> Path:
    """A fresh copy per test: apps write data-quality flags into it."""
    shutil.copytree(sample_catalog_master.parent, tmp_path / "data")
    return tmp_path / "data" / sample_catalog_master.name
