"""The catalog: datasets → runs → files, checksums, run types, data quality, growth history.

>>> from analysis_lib.catalog import Catalog
>>> cat = Catalog.open("demo-data/catalog.sqlite")              # doctest: +SKIP
>>> cat.runs(detector="ge1", run_type="physics", quality="good")  # doctest: +SKIP
"""

from .runlists import read_runlist, write_runlist
from .store import (
    FORMATS_BY_SUFFIX,
    QUALITIES,
    RUN_TYPES,
    Catalog,
    CatalogError,
    sha256_file,
)

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
