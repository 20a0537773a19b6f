"""Event-table readers: Parquet, Arrow IPC, HDF5, ROOT TTrees (uproot) and CSV, one interface.

:func:`iterate` walks many files in chunks of bounded size, :func:`read_table` reads one
whole; both take keyword-only ``columns``, ``filter`` and ``library`` ("np" → dict of numpy
arrays, "pd" → DataFrame, "ak" → awkward Array), following uproot's ``library=`` idiom.

Filters are declarative, a list of ``(column, op, value)`` conditions that must all hold
(ops ``== != < <= > >= in not in``), as in ``pyarrow.parquet``; a callable taking the chunk
(as a dict of arrays) and returning a boolean mask is also accepted.

HDF5 tables are either one compound (structured) dataset, as PyTables and most DAQs write,
or a group of equal-length 1-D datasets (one per column).
"""

from __future__ import annotations

import glob
import os
import re
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
        m = _OPS[op](arr, value)
        mask = m if mask is None else mask & m
    return mask


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


# ------------------------------------------------------------------ per format
def _iter_parquet(path, columns, filter, step_size):
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:
        raise ReadError(f"{path}: not a readable Parquet file: {e}") from None
    names = pf.schema_arrow.names
    cols = _check_columns(path, columns, names)
    fcols = _check_columns(path, _filter_columns(filter), names, " (filter)")
    read = list(dict.fromkeys(cols + fcols))
    # in-memory width of a row: fixed-width Arrow types by their bit width, others
    # (strings, lists) by their uncompressed Parquet size per row
    row_bytes = 0.0
    meta = pf.metadata
    for name in read:
        t = pf.schema_arrow.field(name).type
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
    for batch in pf.iter_batches(batch_size=step, columns=read):
        yield path, {n: batch.column(n).to_numpy(zero_copy_only=False) for n in read}, cols


def _iter_arrow(path, columns, filter, step_size):
    """Arrow IPC files (Feather v2), memory-mapped: chunks are zero-copy slices."""
    import pyarrow as pa

    try:
        source = pa.memory_map(str(path), "r")
        reader = pa.ipc.open_file(source)
    except (pa.ArrowInvalid, OSError) as e:
        raise ReadError(f"{path}: not a readable Arrow IPC (Feather v2) file: {e}") from None
    with source:
        names = reader.schema.names
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
        for b in range(reader.num_record_batches):
            batch = reader.get_batch(b).select(read)
            for s in range(0, batch.num_rows, step):
                part = batch.slice(s, step)
                yield path, {n: part.column(n).to_numpy(zero_copy_only=False) for n in read}, cols


def _iter_csv(path, columns, filter, step_size):
    try:
        head = pd.read_csv(path, nrows=0)
    except Exception as e:
        raise ReadError(f"{path}: not a readable CSV file: {e}") from None
    names = list(head.columns)
    cols = _check_columns(path, columns, names)
    fcols = _check_columns(path, _filter_columns(filter), names, " (filter)")
    read = list(dict.fromkeys(cols + fcols))
    step = _rows_per_step(step_size, 8 * len(read))
    try:
        for df in pd.read_csv(path, usecols=read, chunksize=step):
            yield path, {n: df[n].to_numpy() for n in read}, cols
    except (ValueError, pd.errors.ParserError) as e:
        raise ReadError(f"{path}: malformed CSV: {e}") from None


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
            return obj.dtype.names is not None and obj.ndim == 1
        if isinstance(obj, h5py.Group):
            ds = [v for v in obj.values() if isinstance(v, h5py.Dataset)]
            return (
                bool(ds)
                and len({d.shape[0] if d.ndim else -1 for d in ds}) == 1
                and all(d.ndim >= 1 and d.dtype.names is None for d in ds)
            )
        return False

    if key is not None:
        if key not in h5:
            raise ReadError(f"{path}: no object {key!r}; top level holds {list(h5.keys())}")
        obj = h5[key]
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
    if len(found) != 1:
        raise ReadError(
            f"{path}: {'no' if not found else 'several'} tables found"
            f"{': ' + str(found) if found else ''}; pass key= to choose one"
        )
    return h5[found[0]]


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
            names = list(obj.dtype.names)
            n = obj.shape[0]
            parts = {name: obj for name in names}
            row_bytes = obj.dtype.itemsize
            _h5_check_filters(path, obj)
        else:
            parts = {k: v for k, v in obj.items() if isinstance(v, h5py.Dataset)}
            names = list(parts)
            n = next(iter(parts.values())).shape[0]
            for d in parts.values():
                _h5_check_filters(path, d)
            row_bytes = sum(d.dtype.itemsize * int(np.prod(d.shape[1:])) for d in parts.values())
        where = f" ({obj.name})"
        cols = _check_columns(path, columns, names, where)
        fcols = _check_columns(path, _filter_columns(filter), names, where + " filter")
        read = list(dict.fromkeys(cols + fcols))
        step = _rows_per_step(step_size, row_bytes)
        for start in range(0, n, step):
            sl = slice(start, min(n, start + step))
            try:
                if isinstance(obj, h5py.Dataset):
                    rec = obj[sl] if len(read) == len(names) else obj.fields(read)[sl]
                    if rec.dtype.names is None:  # one field read: h5py gives it plainly
                        chunk = {read[0]: rec}
                    else:
                        chunk = {c: np.ascontiguousarray(rec[c]) for c in read}
                else:
                    chunk = {c: parts[c][sl] for c in read}
            except OSError as e:
                raise ReadError(f"{path}: reading {obj.name!r} rows {sl.start}…: {e}") from None
            for c, v in chunk.items():
                if v.dtype.kind == "S":
                    chunk[c] = v.astype(str)
                elif v.dtype.byteorder == ">":
                    chunk[c] = v.astype(v.dtype.newbyteorder("="))
            yield path, chunk, cols


def _iter_root(path, columns, filter, step_size, key, library):
    import awkward as ak
    import uproot

    try:
        f = uproot.open(path)
    except Exception as e:
        raise ReadError(f"{path}: not a readable ROOT file: {e}") from None
    with f:
        trees = [k.split(";")[0] for k, c in f.classnames().items() if c == "TTree"]
        if key is None:
            if len(trees) != 1:
                raise ReadError(f"{path}: {len(trees)} TTrees {trees}; pass key= to choose one")
            key = trees[0]
        elif key not in trees:
            raise ReadError(f"{path}: no TTree {key!r}; TTrees here: {trees}")
        tree = f[key]
        names = list(tree.keys())
        cols = _check_columns(path, columns, names, f" (TTree {key!r})")
        fcols = _check_columns(path, _filter_columns(filter), names, f" (TTree {key!r} filter)")
        read = list(dict.fromkeys(cols + fcols))
        step = step_size if isinstance(step_size, str) else int(step_size)
        for arrays in tree.iterate(read, step_size=step, library="ak"):
            chunk = {}
            for c in read:
                a = arrays[c]
                if a.ndim == 1 and not isinstance(a.type.content, ak.types.ListType):
                    try:
                        chunk[c] = ak.to_numpy(a)
                        continue
                    except (ValueError, TypeError):
                        pass
                chunk[c] = a  # jagged or string: stays awkward
            if library == "ak":
                yield path, chunk, cols
            else:
                yield (
                    path,
                    {
                        c: v if isinstance(v, np.ndarray) else _ak_to_object(v)
                        for c, v in chunk.items()
                    },
                    cols,
                )


def _ak_to_object(a) -> np.ndarray:
    import awkward as ak

    out = np.empty(len(a), dtype=object)
    for i, x in enumerate(ak.to_list(a)):
        out[i] = np.asarray(x) if isinstance(x, list) else x
    return out


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

    Parameters
    ----------
    paths
        A file, a glob pattern, a list of them, or a table of files with a ``path`` column
        (e.g. ``catalog.files(run_type="physics", format="parquet")``).
    columns
        Columns to return (default all). Unknown names raise :class:`ReadError`.
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
        for p, chunk, cols in it:
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
    if library == "pd":
        return pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=columns)
    if library == "ak":
        import awkward as ak

        return ak.concatenate(chunks) if chunks else ak.Array([])
    if not chunks:
        return {}
    return {c: np.concatenate([ch[c] for ch in chunks]) for c in chunks[0]}
