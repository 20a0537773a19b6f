"""Bring DAQ files into RareHub: validate them, then register runs and files in the catalog.

>>> from analysis_lib.ingest import ingest_midas
>>> ingest_midas("51230216_125838_F0001.mid.gz", catalog="catalog.sqlite")  # doctest: +SKIP
"""

from .midas import IngestError, ingest_midas

__all__ = ["IngestError", "ingest_midas"]
