"""Event-table readers: Parquet, Arrow IPC, HDF5, ROOT TTrees (uproot) and CSV, one interface.

:func:`iterate` walks many files in chunks of bounded size, :func:`read_table` reads one
whole; both take keyword-only ``columns``, ``filter`` and ``library`` ("np" → dict of numpy
arrays, "pd" → DataFrame, "ak" → awkward Array), following uproot's ``library=`` idiom.

Filters are declarative, a list of ``(column, op, value)`` conditions that must all hold
(ops ``== != < <= > >= in not in``), as in ``pyarrow.parquet``; a callable taking the chunk
(as a dict of arrays) and returning a boolean mask is also accepted.

HDF5 tables are either one compound (structured) dataset, as PyTables and most DAQs write,
or a group of equal-length 1-D datasets (one per column).

The rule every reader here keeps: it returns exactly what the file holds, or raises
:class:`ReadError` naming the file and the column, branch, line or byte offset at fault, with
a fix where one exists. In particular:

- CSV: every record must have as many fields as the header (a ragged row is named by line,
  never padded or cut); a missing value is an empty field or ``nan``, while text such as
  ``NA``, ``null`` or ``None`` stays text.
- Parquet / Arrow IPC: the file's own types. A zero-row file gives its columns with their
  types; tz-aware timestamps keep their zone with ``library="pd"`` (numpy and awkward have
  no zones: they get the exact instants as UTC ``datetime64``); integers with nulls become
  pandas nullable integers or numpy masked arrays, never rounded floats.
- ROOT: the default columns are the leaf branches (a grouping branch's data are its
  sub-branches); TTrees and TNtuples are tables; branches that cannot be read are named.
- HDF5: a column whose type numpy cannot hold (PyTables' time types, exotic floats) is
  named, as is a compression filter that is not available.
"""

from __future__ import annotations

import glob
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..catalog.constants import FORMATS_BY_SUFFIX

LIBRARIES = ("np", "pd", "ak")
# The formats this module reads as event tables, by suffix (the catalog's vocabulary).
_FORMATS = {
    suffix: fmt
    for suffix, fmt in FORMATS_BY_SUFFIX.items()
    if fmt in ("parquet", "hdf5", "root", "csv", "arrow")
}
_OPS: dict[str, Callable[[np.ndarray, Any], np.ndarray]] = {
    "==": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "in": lambda a, v: np.isin(a, list(v)),
    "not in": lambda a, v: ~np.isin(a, list(v)),
}
DEFAULT_STEP = "64 MB"

Filter = Sequence[tuple[str, str, Any]] | Callable[[dict], np.ndarray] | None


class ReadError(Exception):
    """A file cannot be read as asked: the message names the file and the column/object."""


# ------------------------------------------------------------------ helpers
def _format_of(path: Path, format: str | None) -> str:
    if format:
        if format not in set(_FORMATS.values()):
            raise ReadError(
                f"{path}: unknown format {format!r}; use {sorted(set(_FORMATS.values()))}"
            )
        return format
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ReadError(
            f"{path}: cannot tell the format from the suffix {path.suffix!r}; pass format="
            f" one of {sorted(set(_FORMATS.values()))}"
        )
    return fmt


def _expand(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    elif isinstance(paths, pd.DataFrame):  # e.g. Catalog.files(...): use its path column
        if "path" not in paths.columns:
            raise ReadError(f"a table of files needs a 'path' column, has {list(paths.columns)}")
        paths = list(paths["path"])
    out: list[Path] = []
    for p in paths:
        s = str(p)
        if any(c in s for c in "*?["):
            hits = sorted(glob.glob(s))  # noqa: PTH207  (absolute or relative patterns alike)
            if not hits:
                raise ReadError(f"no file matches {s!r}")
            out.extend(Path(h) for h in hits)
        else:
            path = Path(s)
            if not path.is_file():
                raise ReadError(f"{path}: no such file")
            out.append(path)
    if not out:
        raise ReadError("no input files given")
    return out


_UNITS = {"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "kib": 1024, "mib": 1024**2, "gib": 1024**3}


def parse_bytes(text: str) -> int:
    """``"64 MB"`` → 64_000_000 (units B, kB, MB, GB, KiB, MiB, GiB)."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise ReadError(f"step size {text!r}: expected a number of rows or e.g. '64 MB'")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def _rows_per_step(step_size: int | str, row_bytes: int) -> int:
    if isinstance(step_size, int | np.integer):
        if step_size < 1:
            raise ReadError(f"step size must be ≥ 1 row, got {step_size}")
        return int(step_size)
    return max(1, parse_bytes(step_size) // max(1, row_bytes))


def _check_columns(path: Path, wanted: Sequence[str] | None, available: Sequence[str], what=""):
    if wanted is None:
        return list(available)
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    unknown = [c for c in wanted if c not in available]
    if unknown:
        raise ReadError(f"{path}{what}: unknown column(s) {unknown}; available: {list(available)}")
    return wanted


def _filter_columns(filter: Filter) -> list[str]:
    if filter is None or callable(filter):
        return []
    cols = []
    for cond in filter:
        if not (isinstance(cond, tuple | list) and len(cond) == 3 and cond[1] in _OPS):
            raise ReadError(
                f"filter condition {cond!r}: expected (column, op, value) with op in {list(_OPS)}"
            )
        cols.append(cond[0])
    return cols


def _check_unique(path: Path, names: Sequence[str], what: str = "") -> None:
    seen, dups = set(), []
    for n in names:
        if n in seen and n not in dups:
            dups.append(n)
        seen.add(n)
    if dups:
        raise ReadError(
            f"{path}{what}: column name(s) {dups} appear more than once, so a column cannot be"
            " chosen by name; rename the duplicates where the file is written"
        )


def _mask(chunk: dict[str, Any], filter: Filter, path: Path) -> np.ndarray | None:
    if filter is None:
        return None
    if callable(filter):
        return np.asarray(filter(chunk), dtype=bool)
    mask = None
    for col, op, value in filter:
        arr = chunk[col]
        if getattr(arr, "dtype", None) is None or arr.dtype == object or np.ndim(arr) != 1:
            raise ReadError(f"{path}: cannot filter on column {col!r}: it is not a flat column")
        # a missing value (masked) never satisfies a condition, as in SQL
        m = np.ma.filled(_OPS[op](arr, value), False)
        mask = m if mask is None else mask & m
    return mask


def _cell(x: Any) -> Any:
    """One ROOT entry (from ``ak.to_list``) as numpy: rectangular lists → an ndarray,
    ragged ones → an object array of such cells; records stay dicts, tuples tuples."""
    if isinstance(x, tuple):
        return tuple(_cell(e) for e in x)
    if isinstance(x, dict):
        return {k: _cell(v) for k, v in x.items()}
    if not isinstance(x, list):
        return x
    try:
        arr = np.asarray(x)
        if arr.dtype != object:
            return arr
    except ValueError:  # ragged: "inhomogeneous shape"
        pass
    out = np.empty(len(x), dtype=object)
    for i, e in enumerate(x):
        out[i] = _cell(e)
    return out


def _ak_to_object(a) -> np.ndarray:
    """An awkward column as a numpy object array of cells: a jagged numeric column gives one
    numpy array per entry (``var * var * x``: an object array of arrays), by its offsets;
    strings, records and options go through ``ak.to_list``."""
    import awkward as ak

    try:
        return _lists_to_cells(a)
    except (TypeError, ValueError):
        pass
    out = np.empty(len(a), dtype=object)
    for i, x in enumerate(ak.to_list(a)):
        out[i] = _cell(x)
    return out


def _lists_to_cells(a) -> np.ndarray:
    import awkward as ak

    t = a.type.content if isinstance(a.type, ak.types.ArrayType) else a.type
    if not isinstance(t, ak.types.ListType | ak.types.RegularType) or t.parameter("__array__"):
        raise TypeError("not a plain list type")
    counts = ak.to_numpy(ak.num(a, axis=1))
    inner = ak.flatten(a, axis=1)
    inner_t = inner.type.content
    if isinstance(inner_t, ak.types.NumpyType):
        flat = ak.to_numpy(inner, allow_missing=False)
    else:
        flat = _lists_to_cells(inner)
    out = np.empty(len(a), dtype=object)
    for i, part in enumerate(np.split(flat, np.cumsum(counts)[:-1]) if len(a) else []):
        out[i] = part
    return out


def _convert(chunk: dict[str, np.ndarray], library: str):
    if library == "np":
        return chunk
    if library == "pd":
        return pd.DataFrame({k: (list(v) if np.ndim(v) > 1 else v) for k, v in chunk.items()})
    import awkward as ak

    return ak.Array(
        {k: ak.from_numpy(v) if v.dtype != object else ak.Array(list(v)) for k, v in chunk.items()}
    )


def _check_library(library: str) -> None:
    if library not in LIBRARIES:
        raise ReadError(f"library={library!r}: choose one of {LIBRARIES}")


# ------------------------------------------------------------------ Arrow-backed chunks
# Parquet and Arrow IPC chunks stay Arrow tables until the end, so that each library gets
# the file's own types: time zones (pandas), nullable integers, zero-row schemas.
def _pd_nullable() -> dict:
    import pyarrow as pa

    return {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.uint8(): pd.UInt8Dtype(),
        pa.uint16(): pd.UInt16Dtype(),
        pa.uint32(): pd.UInt32Dtype(),
        pa.uint64(): pd.UInt64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }


def _has_null_ints(col) -> bool:
    import pyarrow as pa

    t = col.type
    return bool(col.null_count) and (pa.types.is_integer(t) or pa.types.is_boolean(t))


def _arrow_column_np(col) -> np.ndarray:
    """An Arrow column as numpy, exactly: integers/booleans with nulls become masked arrays
    (not floats that round above 2**53); tz-aware timestamps become datetime64 in UTC
    (numpy has no time zones: the instants are exact, the zone is in ``library="pd"``)."""
    import pyarrow as pa

    if _has_null_ints(col):
        mask = col.is_null().to_numpy(zero_copy_only=False)
        filled = col.fill_null(False if pa.types.is_boolean(col.type) else 0)
        return np.ma.MaskedArray(filled.to_numpy(zero_copy_only=False), mask=mask)
    return col.to_numpy(zero_copy_only=False)


def _arrow_to(table, library: str, path: Path):
    names = table.column_names
    if library == "np":
        return {n: _arrow_column_np(c) for n, c in zip(names, table.columns, strict=True)}
    if library == "pd":
        mapper = _pd_nullable()
        return pd.DataFrame(
            {
                n: c.to_pandas(types_mapper=mapper.get if _has_null_ints(c) else None)
                for n, c in zip(names, table.columns, strict=True)
            },
            columns=names,
        )
    import awkward as ak
    import pyarrow as pa

    fields = {}
    for n, c in zip(names, table.columns, strict=True):
        try:
            arr = ak.from_arrow(c)
        except (ValueError, TypeError, NotImplementedError) as e:
            raise ReadError(
                f"{path}: column {n!r} has Arrow type {c.type}, which awkward cannot hold"
                f" ({e}); read it with library='pd' or 'np' (exact values), or leave it out"
                " with columns="
            ) from None
        if arr.layout.is_option and not c.null_count and not pa.types.is_dictionary(c.type):
            arr = ak.Array(arr.layout.project())  # no nulls: the plain type, as from numpy
        fields[n] = arr
    return ak.zip(fields, depth_limit=1) if fields else ak.Array([{}] * table.num_rows)


def _arrow_view(table, filter: Filter) -> dict[str, np.ndarray]:
    """The numpy columns a filter needs (all of them for a callable filter)."""
    wanted = table.column_names if callable(filter) else _filter_columns(filter)
    return {n: _arrow_column_np(table.column(n)) for n in dict.fromkeys(wanted)}


# ------------------------------------------------------------------ per format
def _parquet_failure(path, pf, rg: int, read: list[str], err: Exception) -> ReadError:
    """Name the column chunk (and its byte offset) that cannot be decoded."""
    g = pf.metadata.row_group(rg)
    for name in read:
        try:
            pf.read_row_group(rg, columns=[name])
        except Exception as e:  # any decoder error: we name where it is
            offsets = [
                g.column(i).dictionary_page_offset
                if g.column(i).has_dictionary_page
                else g.column(i).data_page_offset
                for i in range(g.num_columns)
                if g.column(i).path_in_schema.split(".")[0] == name
            ]
            at = f" at byte offset {offsets[0]}" if offsets else ""
            return ReadError(
                f"{path}: column {name!r} in row group {rg}{at} cannot be read: {e}; the file"
                " is damaged (truncated or overwritten): rewrite it from its source"
            )
    return ReadError(f"{path}: row group {rg} cannot be read: {err}")


def _iter_parquet(path, columns, filter, step_size):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        schema = pf.schema_arrow
    except Exception as e:  # pyarrow raises several kinds for a bad footer
        raise ReadError(f"{path}: not a readable Parquet file: {e}") from None
    names = schema.names
    _check_unique(path, names)
    cols = _check_columns(path, columns, names)
    fcols = _check_columns(path, _filter_columns(filter), names, " (filter)")
    read = list(dict.fromkeys(cols + fcols))
    # in-memory width of a row: fixed-width Arrow types by their bit width, others
    # (strings, lists) by their uncompressed Parquet size per row
    row_bytes = 0.0
    meta = pf.metadata
    for name in read:
        t = schema.field(name).type
        try:
            row_bytes += max(1, t.bit_width // 8)
        except ValueError:  # not fixed-width
            if meta.num_row_groups and meta.row_group(0).num_rows:
                g = meta.row_group(0)
                for i in range(g.num_columns):
                    if g.column(i).path_in_schema.split(".")[0] == name:
                        row_bytes += g.column(i).total_uncompressed_size / g.num_rows
            else:
                row_bytes += 8
    step = _rows_per_step(step_size, int(row_bytes) or 8 * len(read))
    rows = 0
    for rg in range(meta.num_row_groups):
        batches = pf.iter_batches(batch_size=step, row_groups=[rg], columns=read)
        while True:  # one batch in memory at a time; a decoding error names its column
            try:
                batch = next(batches)
                # full validation: Parquet readers do not check UTF-8, so a damaged string
                # page would otherwise surface later as a raw Arrow error
                batch.validate(full=True)
            except StopIteration:
                break
            except (OSError, pa.ArrowException) as e:
                raise _parquet_failure(path, pf, rg, read, e) from None
            rows += batch.num_rows
            yield path, pa.Table.from_batches([batch]).select(read), cols
    if not rows:  # zero rows: one empty chunk that keeps the columns and their types
        yield path, schema.empty_table().select(read), cols


def _iter_arrow(path, columns, filter, step_size):
    """Arrow IPC files (Feather v2), memory-mapped: chunks are zero-copy slices."""
    import pyarrow as pa

    try:
        source = pa.memory_map(str(path), "r")
        reader = pa.ipc.open_file(source)
    except (pa.ArrowException, OSError) as e:
        raise ReadError(f"{path}: not a readable Arrow IPC (Feather v2) file: {e}") from None
    with source:
        names = reader.schema.names
        _check_unique(path, names)
        cols = _check_columns(path, columns, names)
        fcols = _check_columns(path, _filter_columns(filter), names, " (filter)")
        read = list(dict.fromkeys(cols + fcols))
        width = 0
        for name in read:
            try:
                width += max(1, reader.schema.field(name).type.bit_width // 8)
            except ValueError:
                width += 16  # variable-width: a rough guess
        step = _rows_per_step(step_size, width)
        rows = 0
        for b in range(reader.num_record_batches):
            try:
                batch = reader.get_batch(b).select(read)
                batch.validate(full=True)
            except (OSError, pa.ArrowException) as e:
                raise ReadError(
                    f"{path}: record batch {b} cannot be read: {e}; the file is damaged"
                    " (truncated or overwritten): rewrite it from its source"
                ) from None
            for s in range(0, batch.num_rows, step):
                part = batch.slice(s, step)
                rows += part.num_rows
                yield path, pa.Table.from_batches([part]), cols
        if not rows:
            yield path, reader.schema.empty_table().select(read), cols


# A missing CSV value is an empty field (what pandas and most tools write for NaN/None) or
# NaN spelled as numpy and pandas print it; "NA", "null", "None" … are kept as text, so a
# string column is never silently turned into missing values.
_CSV_NA = ["", "nan", "NaN", "NAN", "-nan", "-NaN"]


def _first_bad_utf8(path: Path) -> tuple[int, int]:
    """(byte offset, line number) of the first byte that is not UTF-8."""
    import codecs

    dec = codecs.getincrementaldecoder("utf-8")()
    offset, line = 0, 1
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            try:
                dec.decode(block)
            except UnicodeDecodeError as e:
                good = block[: max(0, e.start)]
                return offset + e.start, line + good.count(b"\n")
            offset += len(block)
            line += block.count(b"\n")
    return offset, line


def _not_utf8(path: Path) -> ReadError:
    offset, line = _first_bad_utf8(path)
    return ReadError(
        f"{path}: byte offset {offset} (line {line}) is not UTF-8 text; CSV files are read"
        " as UTF-8: re-encode it (e.g. `iconv -f latin1 -t utf-8`)"
    )


def _ragged(path: Path, line: int, header_line: int, header: list[str], fields: list[str]):
    return ReadError(
        f"{path}: line {line} has {len(fields)} fields where the header (line {header_line})"
        f" has {len(header)}: expected {len(header)} ({', '.join(header)}), found"
        f" {len(fields)} ({', '.join(fields)}); fix that line (a missing value is an empty"
        " field between two commas; a comma inside a value needs double quotes)"
    )


def _csv_header(path: Path) -> list[str]:
    """Check that every record has as many fields as the header; return the header.

    pandas pads short rows with NaN and, with ``usecols=``, drops the extra fields of long
    ones, so a ragged file would be misread without a word: every record's fields are
    counted first, by counting commas with numpy when the file has no quotes (about as
    fast as pandas' own parse), else with the standard ``csv`` module (same dialect as
    pandas: ``,`` and ``"`` quoting, blank lines skipped).
    """
    header = _csv_header_unquoted(path)
    return header if header is not None else _csv_header_quoted(path)


def _csv_header_unquoted(path: Path, block_bytes: int = 1 << 24) -> list[str] | None:
    """The fast path: None when the file has a quote, a NUL, a lone CR or a header that is
    not UTF-8 (the ``csv`` module then reads it and names what is wrong)."""
    header: list[str] | None = None
    header_line = lines_before = 0
    carry = b""
    with path.open("rb") as fh:
        while True:
            block = fh.read(block_bytes)
            part = carry + block if carry else block  # (no copies of the block below)
            cut = part.rfind(b"\n") + 1 if block else len(part)
            if not part:
                break
            if cut == 0:
                carry = part
                continue
            carry = part[cut:]
            if part.find(b'"', 0, cut) >= 0 or part.find(b"\0", 0, cut) >= 0:
                return None
            if part.find(b"\r", 0, cut) >= 0 and part.count(b"\r", 0, cut) != part.count(
                b"\r\n", 0, cut
            ):
                return None  # old Mac line ends: the csv module knows them
            # (UTF-8 is checked by pandas' own parse, see _iter_csv)
            buf = np.frombuffer(part, np.uint8, count=cut)
            ends = np.flatnonzero(buf == 10)
            if buf[-1] != 10:  # the last line of the file, without a newline
                ends = np.append(ends, len(buf))
            starts = np.concatenate([[0], ends[:-1] + 1])
            commas_before_end = np.searchsorted(np.flatnonzero(buf == 44), ends)
            fields = np.diff(commas_before_end, prepend=0) + 1
            stripped = ends - starts - (buf[np.maximum(ends - 1, 0)] == 13)
            blank = stripped <= 0
            first = 0
            if header is None:
                nonblank = np.flatnonzero(~blank)
                if not nonblank.size:
                    lines_before += len(ends)
                    continue
                first = int(nonblank[0])
                try:
                    text = part[starts[first] : ends[first]].decode().removesuffix("\r")
                except UnicodeDecodeError:
                    return None
                header, header_line = text.split(","), lines_before + first + 1
                first += 1
            bad = np.flatnonzero(~blank[first:] & (fields[first:] != len(header)))
            if bad.size:
                i = first + int(bad[0])
                text = part[starts[i] : ends[i]].decode(errors="replace").removesuffix("\r")
                raise _ragged(path, lines_before + i + 1, header_line, header, text.split(","))
            lines_before += len(ends)
            if not block:
                break
    if header is None:
        raise ReadError(f"{path}: empty CSV file: no header line, no columns")
    return header


def _csv_header_quoted(path: Path) -> list[str]:
    import csv

    header: list[str] | None = None
    header_line = end = 0
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh, strict=True)
            for fields in reader:
                start, end = end + 1, reader.line_num  # a quoted field may span lines
                if not fields:  # a blank line: pandas skips it too
                    continue
                if any("\0" in f for f in fields):
                    raise ReadError(
                        f"{path}: line {start} holds a NUL byte: this is not a text (CSV) file"
                    )
                if header is None:
                    header, header_line = fields, start
                    continue
                if len(fields) != len(header):
                    raise _ragged(path, start, header_line, header, fields)
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except csv.Error as e:
        raise ReadError(f"{path}: line {reader.line_num}: malformed CSV: {e}") from None
    if header is None:
        raise ReadError(f"{path}: empty CSV file: no header line, no columns")
    return header


def _iter_csv(path, columns, filter, step_size):
    header = _csv_header(path)
    _check_unique(path, [h for h in header if h])
    try:
        head = pd.read_csv(path, nrows=0, encoding="utf-8")
    except Exception as e:  # pandas raises several kinds
        raise ReadError(f"{path}: not a readable CSV file: {e}") from None
    names = list(head.columns)
    cols = _check_columns(path, columns, names)
    fcols = _check_columns(path, _filter_columns(filter), names, " (filter)")
    read = list(dict.fromkeys(cols + fcols))
    step = _rows_per_step(step_size, 8 * len(read))
    options = dict(keep_default_na=False, na_values=_CSV_NA, encoding="utf-8")
    try:
        for df in pd.read_csv(path, usecols=read, chunksize=step, **options):
            yield path, {n: df[n].to_numpy() for n in read}, cols
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except (ValueError, pd.errors.ParserError) as e:
        raise ReadError(f"{path}: malformed CSV: {e}") from None


# ---- HDF5
def _h5_type_problem(tid, name: str = "") -> str | None:
    """Describe the first part of an HDF5 type that numpy cannot hold (None: all can)."""
    from h5py import h5t

    cls = tid.get_class()
    if cls == h5t.COMPOUND:
        for i in range(tid.get_nmembers()):
            member = tid.get_member_name(i).decode(errors="replace")
            found = _h5_type_problem(tid.get_member_type(i), f"{name}.{member}" if name else member)
            if found:
                return found
        return None
    if cls in (h5t.ARRAY, h5t.VLEN):
        return _h5_type_problem(tid.get_super(), name)
    try:
        tid.dtype  # noqa: B018  (raises when numpy has no equivalent)
    except (TypeError, ValueError) as e:
        kinds = {
            h5t.TIME: "an HDF5 time type (H5T_TIME, as PyTables' Time32Col/Time64Col write)",
            h5t.FLOAT: "a floating-point format numpy has no equivalent for",
            h5t.BITFIELD: "an HDF5 bitfield type",
            h5t.OPAQUE: "an HDF5 opaque type",
            h5t.REFERENCE: "an HDF5 reference type",
        }
        what = kinds.get(cls, f"HDF5 type class {cls}")
        return f"{'column ' + repr(name) if name else 'its data'} has {what} ({e})"
    return None


def _h5_dtype(path, ds):
    try:
        return ds.dtype
    except (TypeError, ValueError) as e:
        problem = _h5_type_problem(ds.id.get_type()) or str(e)
        raise ReadError(
            f"{path}: dataset {ds.name!r}: {problem}, which numpy cannot hold; read it with"
            " PyTables (tables.open_file), which decodes its own time types, or rewrite the"
            " column as int64/float64"
        ) from None


def _h5_is_compound(ds) -> bool:
    """Without ``ds.dtype``, which raises for types numpy cannot hold."""
    from h5py import h5t

    return ds.id.get_type().get_class() == h5t.COMPOUND


def _h5_contents(h5, limit: int = 8) -> str:
    import h5py

    found: list[str] = []

    def visit(name, link):
        if len(found) > limit:
            return
        if isinstance(link, h5py.ExternalLink):
            found.append(f"/{name} → external link to {link.filename}:{link.path}")
        elif isinstance(link, h5py.SoftLink):
            found.append(f"/{name} → soft link to {link.path}")
        else:
            obj = h5.get(name)
            if isinstance(obj, h5py.Dataset):
                try:
                    dtype = str(obj.dtype)
                except (TypeError, ValueError):
                    dtype = "a type numpy cannot hold"
                found.append(f"/{name} (dataset, shape {obj.shape}, {dtype})")

    h5.visititems_links(visit)
    if not found:
        return f"no datasets (only groups and attributes: {list(h5.attrs) or 'none'})"
    more = ", …" if len(found) > limit else ""
    return ", ".join(found[:limit]) + more


def _h5_check_filters(path, ds) -> None:
    import h5py

    plist = ds.id.get_create_plist()
    for i in range(plist.get_nfilters()):
        code, _flags, _vals, name = plist.get_filter(i)
        if not h5py.h5z.filter_avail(code):
            label = name.decode(errors="replace") if isinstance(name, bytes) else name
            raise ReadError(
                f"{path}: dataset {ds.name!r} is compressed with HDF5 filter {code}"
                f" ({label or 'unnamed'}), which is not available here (hdf5plugin provides"
                " Blosc, Blosc2, Zstd, LZ4, Bitshuffle, BZip2 …; LZO is not among them)."
                " Rewrite the file with a supported filter, e.g. `ptrepack --complib=blosc`."
            )


def _h5_table(path, h5, key):
    import h5py

    def is_table(obj):
        if isinstance(obj, h5py.Dataset):
            try:
                return obj.dtype.names is not None and obj.ndim == 1
            except (TypeError, ValueError):  # numpy cannot hold the type: read it to say so
                return obj.ndim == 1 and _h5_is_compound(obj)
        if isinstance(obj, h5py.Group):
            ds = [v for v in obj.values() if isinstance(v, h5py.Dataset)]
            return (
                bool(ds)
                and len({d.shape[0] if d.ndim else -1 for d in ds}) == 1
                and all(d.ndim >= 1 and not _h5_is_compound(d) for d in ds)
            )
        return False

    if key is not None:
        try:
            obj = h5.get(key)
        except (KeyError, OSError, ValueError) as e:  # e.g. a dangling external link
            raise ReadError(f"{path}: {key!r} cannot be opened: {e}") from None
        if obj is None:
            raise ReadError(f"{path}: no object {key!r}; top level holds {list(h5.keys())}")
        if not is_table(obj):
            raise ReadError(
                f"{path}: {key!r} is not a table (a 1-D compound dataset or a group of"
                " equal-length datasets)"
            )
        return obj
    found: list[str] = []
    if is_table(h5):
        return h5
    h5.visititems(lambda name, obj: found.append(name) if is_table(obj) else None)
    if not found:
        raise ReadError(
            f"{path}: holds no table (a 1-D compound dataset or a group of equal-length 1-D"
            f" datasets); it holds {_h5_contents(h5)}"
        )
    if len(found) > 1:
        raise ReadError(f"{path}: several tables found: {found}; pass key= to choose one")
    return h5[found[0]]


def _h5_byte_offset(ds, row: int) -> str:
    """Where row ``row`` of a dataset is stored in the file, for error messages."""
    try:
        if ds.chunks:
            first = (row // ds.chunks[0]) * ds.chunks[0]
            info = ds.id.get_chunk_info_by_coord((first,) + (0,) * (ds.ndim - 1))
            if info.byte_offset is not None:
                return f" (its chunk starts at byte offset {info.byte_offset})"
        offset = ds.id.get_offset()
        if offset is not None:
            return f" (byte offset {offset + row * ds.id.get_type().get_size()})"
    except Exception:  # only a hint for the message
        pass
    return ""


def _h5_failure(path, ds, sl: slice, err: Exception) -> ReadError:
    """Narrow a failed read down to the first chunk (rows, byte offset) that fails."""
    start, stop = sl.start, sl.stop
    step = ds.chunks[0] if ds.chunks else max(1, stop - start)
    for s in range((start // step) * step, stop, step):
        lo, hi = max(s, start), min(s + step, stop)
        try:
            ds[lo:hi]
        except (OSError, ValueError, TypeError) as e:
            start, stop, err = lo, hi, e
            break
    return ReadError(
        f"{path}: reading {ds.name!r} rows {start}…{stop - 1}{_h5_byte_offset(ds, start)}:"
        f" {err}; the file is damaged (truncated or overwritten): rewrite it from its source"
    )


def _h5_vlen_text(path, obj, column: str, v: np.ndarray, start: int) -> np.ndarray:
    """Variable-length HDF5 strings (which h5py reads as bytes) as str, like fixed ones."""
    out = np.empty(v.shape, dtype=object)
    for idx in np.ndindex(v.shape):
        b = v[idx]
        try:
            out[idx] = b.decode("utf-8") if isinstance(b, bytes) else b
        except UnicodeDecodeError:
            raise ReadError(
                f"{path}: {obj.name!r} column {column!r} row {start + idx[0]} holds {b!r},"
                " which is not UTF-8 text; read the raw bytes with h5py"
            ) from None
    return out


def _h5_text(path, obj, column: str, v: np.ndarray, start: int) -> np.ndarray:
    try:
        return np.char.decode(v, "utf-8")
    except UnicodeDecodeError:
        for idx in np.ndindex(v.shape):
            try:
                v[idx].decode("utf-8")
            except UnicodeDecodeError:
                raise ReadError(
                    f"{path}: {obj.name!r} column {column!r} row {start + idx[0]} holds"
                    f" {v[idx]!r}, which is not UTF-8 text; read the raw bytes with h5py"
                ) from None
        raise


def _iter_hdf5(path, columns, filter, step_size, key):
    import h5py
    import hdf5plugin  # noqa: F401  (registers Blosc/Zstd/LZ4 filters with HDF5)

    try:
        h5 = h5py.File(path, "r")
    except OSError as e:
        raise ReadError(f"{path}: not a readable HDF5 file: {e}") from None
    with h5:
        obj = _h5_table(path, h5, key)
        if isinstance(obj, h5py.Dataset):
            dtype = _h5_dtype(path, obj)
            names = list(dtype.names)
            n = obj.shape[0]
            parts = {name: obj for name in names}
            file_dtypes = {name: dtype.fields[name][0].base for name in names}
            row_bytes = dtype.itemsize
            _h5_check_filters(path, obj)
        else:
            parts = {k: v for k, v in obj.items() if isinstance(v, h5py.Dataset)}
            names = list(parts)
            n = next(iter(parts.values())).shape[0]
            file_dtypes = {k: _h5_dtype(path, d) for k, d in parts.items()}
            for d in parts.values():
                _h5_check_filters(path, d)
            row_bytes = sum(d.dtype.itemsize * int(np.prod(d.shape[1:])) for d in parts.values())
        where = f" ({obj.name})"
        cols = _check_columns(path, columns, names, where)
        fcols = _check_columns(path, _filter_columns(filter), names, where + " filter")
        read = list(dict.fromkeys(cols + fcols))
        step = _rows_per_step(step_size, row_bytes)
        # zero rows: one empty chunk, so that the columns and their types are kept
        for start in range(0, n, step) if n else [0]:
            sl = slice(start, min(n, start + step))
            try:
                if isinstance(obj, h5py.Dataset):
                    rec = obj[sl] if len(read) == len(names) else obj.fields(read)[sl]
                    if rec.dtype.names is None:  # one field read: h5py gives it plainly
                        chunk = {read[0]: rec}
                    else:
                        chunk = {c: np.ascontiguousarray(rec[c]) for c in read}
                else:
                    chunk = {}
                    for c in read:
                        chunk[c] = parts[c][sl]
            except (OSError, ValueError, TypeError) as e:
                ds = obj if isinstance(obj, h5py.Dataset) else parts[c]
                raise _h5_failure(path, ds, sl, e) from None
            for c, v in chunk.items():
                if v.dtype.kind == "S":
                    chunk[c] = _h5_text(path, obj, c, v, start)
                elif v.dtype == object and h5py.check_string_dtype(file_dtypes[c]):
                    chunk[c] = _h5_vlen_text(path, obj, c, v, start)  # h5py gives bytes
                elif v.dtype.byteorder == ">":
                    chunk[c] = v.astype(v.dtype.newbyteorder("="))
            yield path, chunk, cols


# ---- ROOT
_TREE_CLASSES = ("TTree", "TNtuple", "TNtupleD")
_TABLE_CLASSES = (*_TREE_CLASSES, "ROOT::RNTuple")  # RNTuple 1.0 (ROOT ≥ 6.34), via uproot
_HISTOGRAM_PREFIXES = ("TH1", "TH2", "TH3", "TProfile", "TGraph", "TEfficiency")


def _root_contents(path, classnames: dict[str, str]) -> str:
    if not classnames:
        return f"{path}: holds no objects at all (an empty ROOT file), so no table to read"
    by_class: dict[str, list[str]] = {}
    for k, c in classnames.items():
        by_class.setdefault(c, []).append(k.split(";")[0])
    held = "; ".join(f"{c}: {sorted(set(v))}" for c, v in sorted(by_class.items()))
    hints = []
    if "ROOT::Experimental::RNTuple" in by_class:
        hints.append(
            "ROOT::Experimental::RNTuple is the pre-release RNTuple layout, which uproot"
            " cannot read: rewrite it with ROOT ≥ 6.34 (RNTuple 1.0), which RareHub reads"
        )
    if any(c.startswith(_HISTOGRAM_PREFIXES) for c in by_class):
        hints.append(
            "histograms and graphs are not event tables: read them with"
            " uproot.open(path)[name].to_hist() or .to_numpy()"
        )
    hint = f" ({'; '.join(hints)})" if hints else ""
    return f"{path}: holds no TTree or RNTuple, so no event table to read; it holds {held}{hint}"


def _root_failure(path, tree, what, read, start, stop, err) -> ReadError:
    """Name the branches that cannot be read (each is tried alone, on the error path only)."""
    bad: dict[str, Exception] = {}
    for c in read:
        try:
            tree[c].array(entry_start=start, entry_stop=stop, library="ak")
        except Exception as e:  # uproot raises many kinds; we name the branch
            bad[c] = e
    if bad:
        c, e = next(iter(bad.items()))
        first = " ".join(str(e).split())[:300] or type(e).__name__
        names = list(bad)
        shown = f"{names[:12]}{' …' if len(names) > 12 else ''}"
        return ReadError(
            f"{path}: {what}: {len(names)} branch(es) {shown} cannot be read (entries"
            f" {start}…{stop - 1}); {c!r}: {type(e).__name__}: {first}; leave them out with"
            " columns= (the other branches read fine alone)"
        )
    first = " ".join(str(err).split())[:400] or type(err).__name__
    return ReadError(f"{path}: {what} entries {start}…{stop - 1} cannot be read: {first}")


def _root_columns(path, tree, what, columns, filter):
    """Check the columns asked for; default: the leaf branches of a TTree (a grouping
    branch's data are its sub-branches, which is what uproot reads), an RNTuple's fields."""
    is_tree = hasattr(tree, "branches")
    try:
        names = list(tree.keys())
        leaves = list(tree.keys(filter_branch=lambda b: not b.branches)) if is_tree else names
    except Exception as e:
        raise ReadError(f"{path}: {what} cannot be opened: {e}") from None
    cols = _check_columns(path, columns, names, f" ({what})") if columns is not None else leaves
    fcols = _check_columns(path, _filter_columns(filter), names, f" ({what} filter)")
    read = list(dict.fromkeys(cols + fcols))
    if not read:
        raise ReadError(f"{path}: {what} has no branches or fields: there is nothing to read")
    if not is_tree:
        return cols, read
    counts = Counter(names)
    _check_unique(path, [c for c in read for _ in range(counts[c])], f" ({what})")
    for c in read:
        if tree[c].branches:
            subs = tree[c].keys(filter_branch=lambda b: not b.branches, full_paths=True)
            subs = [f"{c}/{s}" if not s.startswith(c) else s for s in subs]
            raise ReadError(
                f"{path}: branch {c!r} of {what} is a grouping branch (its data are"
                f" its sub-branches): pass columns={subs[:6]}{' …' if len(subs) > 6 else ''}"
            )
    short = {c: tree[c].num_entries for c in read if tree[c].num_entries != tree.num_entries}
    if short:
        shown = dict(list(short.items())[:6])
        raise ReadError(
            f"{path}: {what} holds {tree.num_entries} entries but branch(es)"
            f" {shown}{' …' if len(short) > 6 else ''} hold a different number, so their"
            f" rows would not line up ({len(short)} such branches); leave them out with"
            " columns="
        )
    return cols, read


def _iter_root(path, columns, filter, step_size, key, library):
    import uproot

    try:
        f = uproot.open(path)
        classnames = f.classnames()
    except Exception as e:  # uproot raises many kinds for a bad file
        raise ReadError(f"{path}: not a readable ROOT file: {e}") from None
    with f:
        # several cycles of one name are backups: uproot reads the highest, as ROOT does
        kinds = {k.split(";")[0]: c for k, c in classnames.items() if c in _TABLE_CLASSES}
        tables = list(kinds)
        if key is None:
            if not tables:
                raise ReadError(_root_contents(path, classnames))
            if len(tables) > 1:
                raise ReadError(
                    f"{path}: {len(tables)} TTrees/RNTuples {tables}; pass key= to choose one"
                )
            key = tables[0]
        elif key not in kinds:
            raise ReadError(f"{path}: no TTree or RNTuple {key!r}; here: {tables}")
        what = f"{'RNTuple' if 'RNTuple' in kinds[key] else 'TTree'} {key!r}"
        try:
            tree = f[key]
            n_entries = tree.num_entries
        except Exception as e:
            raise ReadError(f"{path}: {what} cannot be opened: {e}") from None
        cols, read = _root_columns(path, tree, what, columns, filter)
        step = step_size if isinstance(step_size, str) else int(step_size)
        start = 0
        try:
            iterator = iter(tree.iterate(read, step_size=step, library="ak"))
        except Exception as e:
            raise _root_failure(path, tree, what, read, 0, max(n_entries, 1), e) from None
        while True:
            try:
                arrays = next(iterator)
            except StopIteration:
                break
            except Exception as e:
                stop = max(n_entries, start + 1)
                raise _root_failure(path, tree, what, read, start, stop, e) from None
            start += len(arrays)
            yield path, _root_chunk(arrays, read, library), cols
        if n_entries == 0:  # zero entries: one empty chunk with the branches' types
            try:
                arrays = tree.arrays(read, entry_stop=0, library="ak")
            except Exception as e:
                raise _root_failure(path, tree, what, read, 0, 1, e) from None
            yield path, _root_chunk(arrays, read, library), cols


def _is_plain_numbers(t) -> bool:
    import awkward as ak

    if t.parameter("__array__"):
        return False
    if isinstance(t, ak.types.NumpyType):
        return True
    return isinstance(t, ak.types.RegularType) and _is_plain_numbers(t.content)


def _root_chunk(arrays, read, library):
    import awkward as ak

    chunk = {}
    for c in read:
        a = arrays[c]
        if _is_plain_numbers(a.type.content):
            try:  # flat or fixed-size (regular) numbers: plain numpy
                chunk[c] = ak.to_numpy(a, allow_missing=False)
                continue
            except (ValueError, TypeError):
                pass
        chunk[c] = a  # jagged, records or strings: stay awkward
    if library == "ak":
        return chunk
    return {c: v if isinstance(v, np.ndarray) else _ak_to_object(v) for c, v in chunk.items()}


def _guarded(it: Iterator, path: Path, fmt: str) -> Iterator:
    """The last line of the rule: whatever a third-party library raises while reading
    comes out as a :class:`ReadError` naming the file (specific cases above name more)."""
    try:
        yield from it
    except ReadError:
        raise
    except Exception as e:
        raise ReadError(f"{path}: cannot be read as {fmt}: {type(e).__name__}: {e}") from e


# ------------------------------------------------------------------ public API
def iterate(
    paths: str | os.PathLike | Iterable[str | os.PathLike] | pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    filter: Filter = None,
    step_size: int | str = DEFAULT_STEP,
    library: str = "np",
    key: str | None = None,
    format: str | None = None,
) -> Iterator[Any]:
    """Iterate over event tables in many files, one bounded chunk at a time.

    Every file gives at least one chunk: a file with no rows gives one empty chunk that
    carries its columns and their types. Anything that cannot be read exactly raises
    :class:`ReadError` naming the file (see the module docstring for what each format
    returns).

    Parameters
    ----------
    paths
        A file, a glob pattern, a list of them, or a table of files with a ``path`` column
        (e.g. ``catalog.files(run_type="physics", format="parquet")``).
    columns
        Columns to return (default all; for ROOT TTrees, the leaf branches). Unknown names
        raise :class:`ReadError`.
    filter
        ``[(column, op, value), …]`` conditions that must all hold, or a callable
        ``chunk -> mask``. Filter columns need not be among ``columns``.
    step_size
        Rows per chunk (int) or a memory size such as ``"64 MB"`` (per chunk, before
        filtering). Chunks never span two files.
    library
        ``"np"`` (dict of numpy arrays), ``"pd"`` (DataFrame) or ``"ak"`` (awkward Array).
    key
        HDF5 dataset/group or ROOT TTree name, needed when a file holds several.
    format
        ``"parquet"``, ``"arrow"`` (IPC/Feather v2), ``"hdf5"``, ``"root"`` or ``"csv"``;
        default from each suffix.
    """
    _check_library(library)
    for path in _expand(paths):
        fmt = _format_of(path, format)
        if fmt == "parquet":
            it = _iter_parquet(path, columns, filter, step_size)
        elif fmt == "arrow":
            it = _iter_arrow(path, columns, filter, step_size)
        elif fmt == "csv":
            it = _iter_csv(path, columns, filter, step_size)
        elif fmt == "hdf5":
            it = _iter_hdf5(path, columns, filter, step_size, key)
        else:
            it = _iter_root(path, columns, filter, step_size, key, library)
        for p, chunk, cols in _guarded(it, path, fmt):
            if not isinstance(chunk, dict):  # an Arrow table (Parquet, Arrow IPC)
                mask = _mask(_arrow_view(chunk, filter), filter, p)
                table = chunk.select(cols)
                if mask is not None:
                    import pyarrow as pa

                    table = table.filter(pa.array(mask, type=pa.bool_()))
                yield _arrow_to(table, library, p)
                continue
            mask = _mask(chunk, filter, p)
            out = {c: chunk[c] if mask is None else chunk[c][mask] for c in cols}
            if fmt == "root" and library == "ak":
                import awkward as ak

                yield ak.zip(out, depth_limit=1)
            else:
                yield _convert(out, library)


def read_table(
    path: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    columns: Sequence[str] | None = None,
    filter: Filter = None,
    library: str = "pd",
    key: str | None = None,
    format: str | None = None,
):
    """Read whole event table(s) into memory; the options are those of :func:`iterate`."""
    chunks = list(
        iterate(
            path,
            columns=columns,
            filter=filter,
            step_size="256 MB",
            library=library,
            key=key,
            format=format,
        )
    )
    # every file gives at least one chunk (an empty one keeps the columns and their types)
    full = [c for c in chunks if len(c if library != "np" else next(iter(c.values()), ()))]
    chunks = full or chunks[:1]
    if library == "pd":
        return pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
    if library == "ak":
        import awkward as ak

        return ak.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    if not chunks[0]:
        return {}
    return {
        c: (
            np.ma.concatenate
            if any(np.ma.isMaskedArray(ch[c]) for ch in chunks)
            else np.concatenate
        )([ch[c] for ch in chunks])
        for c in chunks[0]
    }
