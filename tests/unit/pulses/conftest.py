"""Shared fixtures of the pulse-processing tests."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def qetpy():
    """QETpy, the reference implementation. Its import sets OMP/MKL/OPENBLAS/NUMEXPR
    thread counts in ``os.environ`` (qetpy/utils/_utils.py); undo that so that it does
    not leak into other tests and their subprocesses."""
    saved = dict(os.environ)
    module = pytest.importorskip("qetpy", reason="qetpy is the reference implementation")
    for key in set(os.environ) - set(saved):
        del os.environ[key]
    os.environ.update(saved)
    return module
