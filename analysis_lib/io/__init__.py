"""Readers and writers: event tables, raw pulse storage and declarative binary formats."""

from .binary import BinaryDataError, BinaryFile, BinaryFormat, FormatError, load_format
from .parquet import ParquetWriter, write_parquet
from .raw import RawFile, RawFormatError, RawWriter
from .tables import ReadError, iterate, read_table

__all__ = [
    "BinaryDataError",
    "BinaryFile",
    "BinaryFormat",
    "FormatError",
    "ParquetWriter",
    "RawFile",
    "RawFormatError",
    "RawWriter",
    "ReadError",
    "iterate",
    "load_format",
    "read_table",
    "write_parquet",
]
