"""The catalog: datasets → runs → files, checksums, run types, data quality, growth history.

>>> from analysis_lib.catalog import Catalog
>>> cat = Catalog.open("demo-data/catalog.sqlite")              # doctest: +SKIP
>>> cat.runs(detector="ge1", run_type="physics", quality="good")  # doctest: +SKIP

Names are imported lazily, so that ``rarehub --help`` does not load pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .constants import FORMATS_BY_SUFFIX, QUALITIES, RUN_TYPES

_LAZY = {
    "Catalog": ".store",
    "CatalogError": ".store",
    "sha256_file": ".store",
    "read_runlist": ".runlists",
    "write_runlist": ".runlists",
}

if TYPE_CHECKING:
    from .runlists import read_runlist, write_runlist
    from .store import Catalog, CatalogError, sha256_file

__all__ = [
    "FORMATS_BY_SUFFIX",
    "QUALITIES",
    "RUN_TYPES",
    "Catalog",
    "CatalogError",
    "read_runlist",
    "sha256_file",
    "write_runlist",
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
