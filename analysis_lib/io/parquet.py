"""Parquet output for results: whole tables or chunk by chunk, always atomic.

Data is written to a temporary file in the target folder and renamed into place only when
complete, so a crash or an exception never leaves a half-written result behind.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .atomic import AtomicWriter


def _to_arrow(data: Any) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    if isinstance(data, Mapping):
        return pa.table(
            {
                k: pa.array(v) if getattr(v, "ndim", 1) == 1 else pa.array(list(v))
                for k, v in data.items()
            }
        )
    try:
        import awkward as ak

        if isinstance(data, ak.Array):
            return ak.to_arrow_table(data)
    except ImportError:  # pragma: no cover - awkward is a dependency
        pass
    raise TypeError(
        f"cannot write {type(data).__name__} as Parquet: give a DataFrame, a dict "
        "of arrays, a pyarrow Table or an awkward Array"
    )


def _with_metadata(schema: pa.Schema, metadata: Mapping[str, str] | None) -> pa.Schema:
    if not metadata:
        return schema
    merged = dict(schema.metadata or {})
    merged.update({str(k).encode(): str(v).encode() for k, v in metadata.items()})
    return schema.with_metadata(merged)


class ParquetWriter(AtomicWriter):
    """Write a Parquet file chunk by chunk; it appears at ``path`` only on a clean close.

    Examples
    --------
    >>> with ParquetWriter("out.parquet") as w:          # doctest: +SKIP
    ...     for chunk in iterate(files, library="pd"):
    ...         w.write(chunk[chunk.energy_keV > 1])
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        metadata: Mapping[str, str] | None = None,
        compression: str = "zstd",
    ):
        super().__init__(path)
        self._metadata = metadata
        self._compression = compression
        self._writer: pq.ParquetWriter | None = None
        self.rows = 0

    def write(self, data: Any) -> None:
        """Append one chunk (same columns and types as the first)."""
        table = _to_arrow(data)
        if self._writer is None:
            schema = _with_metadata(table.schema, self._metadata)
            self._writer = pq.ParquetWriter(self.tmp, schema, compression=self._compression)
        elif table.schema.remove_metadata() != self._writer.schema.remove_metadata():
            raise ValueError(
                f"{self.path}: chunk schema {table.schema.remove_metadata()} differs from the"
                f" first chunk's {self._writer.schema.remove_metadata()}"
            )
        self._writer.write_table(table.replace_schema_metadata(self._writer.schema.metadata))
        self.rows += table.num_rows

    def _finish(self) -> None:
        if self._writer is None:
            raise ValueError(f"{self.path}: nothing was written")
        self._writer.close()

    def _discard(self) -> None:
        if self._writer is not None:
            self._writer.close()


def write_parquet(
    data: Any,
    path: str | os.PathLike,
    *,
    metadata: Mapping[str, str] | None = None,
    compression: str = "zstd",
) -> Path:
    """Write a table (DataFrame, dict of arrays, pyarrow Table, awkward Array) atomically.

    ``metadata`` (str → str) is stored in the Parquet schema, e.g. a result's lineage hash.
    """
    table = _to_arrow(data)
    with ParquetWriter(path, metadata=metadata, compression=compression) as w:
        w.write(table)
    return Path(path)
