"""Readers and writers: event tables, raw pulse storage and declarative binary formats."""

from .binary import BinaryDataError, BinaryFile, BinaryFormat, FormatError, load_format
from .binned_text import (
    COHERENT_CSI_2017,
    BinnedTextError,
    CoherentCsI2017,
    read_binned_text,
    read_coherent_csi_2017,
)
from .parquet import ParquetWriter, write_parquet
from .raw import RawFile, RawFormatError, RawWriter
from .tables import ReadError, iterate, read_table

__all__ = [
    "COHERENT_CSI_2017",
    "BinaryDataError",
    "BinaryFile",
    "BinaryFormat",
    "BinnedTextError",
    "CoherentCsI2017",
    "FormatError",
    "ParquetWriter",
    "RawFile",
    "RawFormatError",
    "RawWriter",
    "ReadError",
    "iterate",
    "load_format",
    "read_binned_text",
    "read_coherent_csi_2017",
    "read_table",
    "write_parquet",
]
