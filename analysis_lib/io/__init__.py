"""Readers and writers: event tables, raw pulse storage and declarative binary formats."""

from .parquet import ParquetWriter, write_parquet
from .tables import ReadError, iterate, read_table

__all__ = ["ParquetWriter", "ReadError", "iterate", "read_table", "write_parquet"]
