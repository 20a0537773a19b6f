"""Partitioned Parquet storage for beam and slow-control time series (one job: store and query).

Layout under a root folder::

    <root>/pv=<name>/date=<YYYY-MM-DD>/part-<tmin_ns>-<tmax_ns>-<token>.parquet
    <root>/_gaps/pv=<name>/part-<start_ns>-<token>.parquet

Sample files hold two columns, ``time_ns`` (int64, nanoseconds since the Unix epoch, UTC)
and ``value`` (float64), sorted by time. The first and last timestamps are in the file
name, so a range query opens only the files it needs and the archiver finds where it stopped
without reading data. Gap files hold ``start_ns``, ``end_ns`` (int64, UTC) and ``reason``.

Writes are atomic: each part is written to a hidden ``.tmp`` file in the same folder and
renamed into place, so a reader (or a process killed mid-write) never sees half a file.
Appends are forward-only per PV: rows at or before the last stored timestamp are dropped
(``on_overlap="drop"``, the default, which makes resuming after a restart duplicate-free)
or refused (``on_overlap="error"``).

Examples
--------
>>> arch = BeamArchive(tmp_path)                                     # doctest: +SKIP
>>> arch.append("BEAM:POWER_MW", time_ns, power_MW)                   # doctest: +SKIP
>>> arch.query("BEAM:POWER_MW", start="2026-11-25", end="2026-11-26") # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, unquote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..io.atomic import atomic_path

__all__ = ["BeamArchive", "Gap", "to_time_ns"]

NS_PER_DAY = 86_400 * 1_000_000_000
SAMPLE_SCHEMA = pa.schema([("time_ns", pa.int64()), ("value", pa.float64())])
GAP_SCHEMA = pa.schema([("start_ns", pa.int64()), ("end_ns", pa.int64()), ("reason", pa.string())])
_PART_RE = re.compile(r"^part-(-?\d+)-(-?\d+)-[0-9a-f]+\.parquet$")
_GAP_RE = re.compile(r"^part-(-?\d+)-[0-9a-f]+\.parquet$")
# Characters of EPICS record names kept literally in folder names; others are %-escaped.
_PV_SAFE = ":._-[]<>;{}"


@dataclass(frozen=True)
class Gap:
    """A time range in which a PV has no samples although it should.

    Attributes
    ----------
    pv : str
        The process-variable name.
    start_ns, end_ns : int
        The range, ns since the Unix epoch (UTC): from the last sample (or moment) known
        good to the first sample (or moment) after.
    reason : str
        Why, e.g. ``"disconnected"`` or ``"archiver restart"``.
    """

    pv: str
    start_ns: int
    end_ns: int
    reason: str


def to_time_ns(t: object) -> int:
    """Convert a time to int nanoseconds since the Unix epoch (UTC).

    Accepts an int (already ns), a float (seconds since the epoch), a ``datetime``,
    ``numpy.datetime64``, ``pandas.Timestamp`` or an ISO-8601 string (naive = UTC).
    """
    if isinstance(t, bool):
        raise TypeError(f"time {t!r}: expected ns int, seconds float, datetime or ISO string")
    if isinstance(t, int | np.integer):
        return int(t)
    if isinstance(t, float | np.floating):
        return round(float(t) * 1e9)
    if isinstance(t, str | datetime | np.datetime64 | pd.Timestamp):
        ts = pd.Timestamp(t)
        if ts.tzinfo is None:
            ts = ts.tz_localize("UTC")
        return int(ts.tz_convert("UTC").value)
    raise TypeError(f"time {t!r}: expected ns int, seconds float, datetime or ISO string")


def _pv_dir_name(pv: str) -> str:
    if not pv or pv.strip() != pv:
        raise ValueError(f"PV name {pv!r}: must be non-empty without surrounding spaces")
    return "pv=" + quote(pv, safe=_PV_SAFE)


def _date_of(time_ns: int) -> str:
    return datetime.fromtimestamp(time_ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%d")


def _atomic_write(table: pa.Table, folder: Path, name: str) -> Path:
    target = folder / name
    with atomic_path(target, durable=True) as tmp:  # a live archive: fsync before rename
        pq.write_table(table, tmp, compression="zstd")
    return target


class BeamArchive:
    """A folder of partitioned Parquet time series, one series per process variable (PV).

    Parameters
    ----------
    root : str or Path
        The archive folder; created on the first write.

    Notes
    -----
    Safe for one writer process per PV and any number of readers. Within a process each
    PV has its own lock, so threads may append to different PVs in parallel.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._last: dict[str, int | None] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _lock(self, pv: str) -> threading.Lock:
        """The lock serialising writes of one PV (different PVs may be written in parallel)."""
        with self._locks_guard:
            return self._locks.setdefault(pv, threading.Lock())

    # ---- discovery -------------------------------------------------------------------
    def pvs(self) -> list[str]:
        """The names of all PVs with samples or gaps in the archive, sorted."""
        names: set[str] = set()
        for base in (self.root, self.root / "_gaps"):
            if base.is_dir():
                names.update(
                    unquote(p.name[3:]) for p in base.iterdir() if p.name.startswith("pv=")
                )
        return sorted(names)

    def _parts(self, pv: str) -> list[tuple[int, int, Path]]:
        pv_dir = self.root / _pv_dir_name(pv)
        out = []
        if not pv_dir.is_dir():
            return out
        for date_dir in pv_dir.iterdir():
            if not date_dir.name.startswith("date="):
                continue
            for f in date_dir.iterdir():
                m = _PART_RE.match(f.name)
                if m:
                    out.append((int(m.group(1)), int(m.group(2)), f))
        out.sort(key=lambda x: (x[0], x[1]))
        return out

    def last_time_ns(self, pv: str) -> int | None:
        """The newest stored timestamp of ``pv`` (ns, UTC), or None if it has no samples."""
        with self._lock(pv):
            return self._last_locked(pv)

    def _last_locked(self, pv: str) -> int | None:
        if pv not in self._last:
            parts = self._parts(pv)
            self._last[pv] = max((p[1] for p in parts), default=None)
        return self._last[pv]

    # ---- writing ---------------------------------------------------------------------
    def append(
        self,
        pv: str,
        time_ns: Sequence[int] | np.ndarray,
        value: Sequence[float] | np.ndarray,
        *,
        on_overlap: str = "drop",
    ) -> int:
        """Append samples of one PV; returns the number of rows written.

        Parameters
        ----------
        pv : str
            Process-variable name, e.g. ``"BEAM:POWER_MW"``.
        time_ns : array of int
            Sample times, ns since the Unix epoch (UTC). Need not be sorted.
        value : array of float
            Sample values (stored as float64).
        on_overlap : {"drop", "error"}
            What to do with samples at or before the last stored timestamp (and repeated
            timestamps within the batch): drop them (the default; resuming is then free of
            duplicates) or raise ``ValueError``.
        """
        if on_overlap not in ("drop", "error"):
            raise ValueError(f"on_overlap={on_overlap!r}: expected 'drop' or 'error'")
        t = np.asarray(time_ns)
        v = np.asarray(value, dtype=np.float64)
        if t.ndim != 1 or t.shape != v.shape:
            raise ValueError(
                f"PV {pv!r}: time_ns and value must be 1-d of equal length, "
                f"got shapes {t.shape} and {v.shape}"
            )
        if t.size and not np.issubdtype(t.dtype, np.integer):
            raise TypeError(f"PV {pv!r}: time_ns must be integers (ns UTC), got dtype {t.dtype}")
        t = t.astype(np.int64, copy=False)
        _pv_dir_name(pv)  # validate the name before any work
        with self._lock(pv):
            if t.size == 0:
                return 0
            order = np.argsort(t, kind="stable")
            t, v = t[order], v[order]
            keep = np.ones(t.size, dtype=bool)
            keep[1:] = t[1:] != t[:-1]
            last = self._last_locked(pv)
            if last is not None:
                keep &= t > last
            if on_overlap == "error" and not keep.all():
                bad = int(t[~keep][0])
                raise ValueError(
                    f"PV {pv!r}: sample at time_ns={bad} repeats or precedes the last stored "
                    f"time_ns={last}; appends are forward-only (use on_overlap='drop')"
                )
            t, v = t[keep], v[keep]
            if t.size == 0:
                return 0
            days = t // NS_PER_DAY
            cuts = np.flatnonzero(np.diff(days)) + 1
            for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, t.size], strict=True):
                tt, vv = t[lo:hi], v[lo:hi]
                table = pa.Table.from_arrays([pa.array(tt), pa.array(vv)], schema=SAMPLE_SCHEMA)
                folder = self.root / _pv_dir_name(pv) / f"date={_date_of(int(tt[0]))}"
                name = f"part-{int(tt[0])}-{int(tt[-1])}-{secrets.token_hex(4)}.parquet"
                _atomic_write(table, folder, name)
            self._last[pv] = int(t[-1])
            return int(t.size)

    def record_gap(self, pv: str, start_ns: int, end_ns: int, reason: str) -> Gap:
        """Record that ``pv`` has no samples from ``start_ns`` to ``end_ns`` (ns UTC)."""
        start_ns, end_ns = to_time_ns(start_ns), to_time_ns(end_ns)
        if end_ns < start_ns:
            raise ValueError(f"gap of PV {pv!r}: end_ns={end_ns} is before start_ns={start_ns}")
        table = pa.Table.from_pylist(
            [{"start_ns": start_ns, "end_ns": end_ns, "reason": str(reason)}], schema=GAP_SCHEMA
        )
        folder = self.root / "_gaps" / _pv_dir_name(pv)
        _atomic_write(table, folder, f"part-{start_ns}-{secrets.token_hex(4)}.parquet")
        return Gap(pv, start_ns, end_ns, str(reason))

    def compact(self, pv: str, *, small_bytes: int = 8 << 20) -> int:
        """Merge the small parts of each date partition of ``pv``; returns files removed.

        Parts smaller than ``small_bytes`` are merged into one (size-tiered: merged files
        grow until they pass the size and are then left alone, so a day of 60 Hz data ends
        up in a handful of files). The merged file is written atomically before the parts
        are deleted; a concurrent reader may list both, and :meth:`query` drops the
        repeated rows.
        """
        removed = 0
        with self._lock(pv):
            by_date: dict[Path, list[Path]] = {}
            for _, _, f in self._parts(pv):
                try:
                    if f.stat().st_size < small_bytes:
                        by_date.setdefault(f.parent, []).append(f)
                except FileNotFoundError:
                    continue
            for folder, files in by_date.items():
                if len(files) < 2:
                    continue
                table = pa.concat_tables(pq.read_table(f, schema=SAMPLE_SCHEMA) for f in files)
                table = table.sort_by("time_ns")
                t = table.column("time_ns").to_numpy()
                name = f"part-{int(t[0])}-{int(t[-1])}-{secrets.token_hex(4)}.parquet"
                _atomic_write(table, folder, name)
                for f in files:
                    f.unlink()
                removed += len(files)
        return removed

    # ---- reading ---------------------------------------------------------------------
    def query(
        self,
        pv: str | Iterable[str],
        start: object | None = None,
        end: object | None = None,
    ) -> pd.DataFrame:
        """Samples of one or several PVs with ``start <= time_ns < end``.

        Parameters
        ----------
        pv : str or iterable of str
            One PV name, or several.
        start, end : optional
            Range limits: ns int, seconds float, datetime or ISO string (naive = UTC).
            None means unbounded.

        Returns
        -------
        pandas.DataFrame
            Columns ``time_ns`` (int64) and ``value`` (float64), sorted by time; with
            several PVs also a ``pv`` column, sorted by (pv, time_ns). Empty (with these
            columns) when nothing matches.
        """
        lo = -(2**63) if start is None else to_time_ns(start)
        hi = 2**63 - 1 if end is None else to_time_ns(end)
        if isinstance(pv, str):
            return self._query_one(pv, lo, hi)
        frames = []
        for name in pv:
            df = self._query_one(name, lo, hi)
            df.insert(0, "pv", name)
            frames.append(df)
        if not frames:
            return pd.DataFrame({"pv": pd.Series(dtype=object)} | _empty_samples())
        return pd.concat(frames, ignore_index=True)

    def _query_one(self, pv: str, lo: int, hi: int) -> pd.DataFrame:
        tables = []
        for tmin, tmax, f in self._parts(pv):
            if tmax < lo or tmin >= hi:
                continue
            try:
                tables.append(pq.read_table(f, schema=SAMPLE_SCHEMA))
            except FileNotFoundError:  # removed by a concurrent compact(); its merge is read
                continue
        if not tables:
            return pd.DataFrame(_empty_samples())
        table = pa.concat_tables(tables)
        t = table.column("time_ns").to_numpy()
        v = table.column("value").to_numpy()
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
        sel = (t >= lo) & (t < hi)
        sel[1:] &= t[1:] != t[:-1]  # a part read twice during a concurrent compact()
        return pd.DataFrame({"time_ns": t[sel], "value": v[sel]})

    def gaps(self, pv: str, start: object | None = None, end: object | None = None) -> list[Gap]:
        """Recorded gaps of ``pv`` that overlap ``[start, end)``, sorted by start."""
        lo = -(2**63) if start is None else to_time_ns(start)
        hi = 2**63 - 1 if end is None else to_time_ns(end)
        folder = self.root / "_gaps" / _pv_dir_name(pv)
        out: list[Gap] = []
        if not folder.is_dir():
            return out
        for f in folder.iterdir():
            if not _GAP_RE.match(f.name):
                continue
            for row in pq.read_table(f, schema=GAP_SCHEMA).to_pylist():
                if row["end_ns"] >= lo and row["start_ns"] < hi:
                    out.append(Gap(pv, row["start_ns"], row["end_ns"], row["reason"]))
        out.sort(key=lambda g: (g.start_ns, g.end_ns))
        return out


def _empty_samples() -> dict[str, pd.Series]:
    return {
        "time_ns": pd.Series(dtype=np.int64),
        "value": pd.Series(dtype=np.float64),
    }
