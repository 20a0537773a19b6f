"""The EPICS archiver: subscribe to PVs over Channel Access and write them to a BeamArchive.

One job: keep every monitor update of the configured PVs, in order, on disk, and say
where data is missing. Updates arrive on caproto's client threads and are buffered in
memory; a flush (every ``flush_interval_s``) appends each PV's buffer to the archive
atomically.

Gaps are recorded, not papered over:

- **disconnect** (IOC stopped, network lost): from the last sample before the disconnect
  to the first sample after the reconnect, reason ``"disconnected"``;
- **archiver restart** (clean or ``kill -9``): from the last *stored* sample to the first
  new one, reason ``"archiver not running"`` — this also covers samples that were
  buffered but not yet flushed when the process died.

Samples at or before a PV's last known timestamp are dropped, so a restarted archiver (or
a re-sent current value after a reconnect) never writes a duplicate row.

The caller sets the EPICS environment (``EPICS_CA_ADDR_LIST`` …) before :meth:`start`;
caproto is imported only then.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .archive import BeamArchive

__all__ = ["Archiver", "ArchiverStats"]

log = logging.getLogger(__name__)
EPICS_TO_UNIX_S = 631_152_000  # 1990-01-01 minus 1970-01-01, seconds (EPICS epoch)


@dataclass
class ArchiverStats:
    """Counters since start: updates received, rows written, duplicates dropped, gaps,
    flushes and their total time (s), and updates whose value was not a number."""

    received: int = 0
    written: int = 0
    duplicates: int = 0
    gaps: int = 0
    flushes: int = 0
    unconvertible: int = 0
    flush_seconds: float = 0.0
    last_flush_unix_s: float = 0.0


@dataclass
class _PVState:
    last_ns: int | None = None
    gap_start_ns: int | None = None
    gap_reason: str = ""
    connected: bool = False
    times: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    stored_ns: int | None = None  # newest sample on disk
    stored_rows: int = 0  # rows written since start
    stored_sum: float = 0.0  # sum of the values written since start


class Archiver:
    """Archive Channel Access monitor updates of ``pvs`` into ``archive``.

    Parameters
    ----------
    archive : BeamArchive
        Where samples and gaps go.
    pvs : list of str
        Process-variable names to subscribe to.
    flush_interval_s : float
        Seconds between flushes of the in-memory buffers to disk (default 1.0). At most
        this much data is lost (and recorded as a gap) if the process is killed.
    compact_every : int
        Merge each PV's small files every this many flushes (default 60; 0: never), so
        a PV gets a handful of files per day instead of one per flush.
    """

    def __init__(
        self,
        archive: BeamArchive,
        pvs: list[str],
        *,
        flush_interval_s: float = 1.0,
        compact_every: int = 60,
    ) -> None:
        if not pvs:
            raise ValueError("no PVs given: name at least one process variable to archive")
        if len(set(pvs)) != len(pvs):
            dup = sorted({p for p in pvs if pvs.count(p) > 1})
            raise ValueError(f"PV names given twice: {dup}")
        if flush_interval_s <= 0:
            raise ValueError(f"flush_interval_s={flush_interval_s}: must be > 0 seconds")
        self.archive = archive
        self.pv_names = list(pvs)
        self.flush_interval_s = float(flush_interval_s)
        self.compact_every = int(compact_every)
        self.stats = ArchiverStats()
        self._lock = threading.Lock()
        self._state: dict[str, _PVState] = {}
        self._pending_gaps: list[tuple[str, int, int, str]] = []
        self._stop = threading.Event()
        self._ctx = None
        self._closing = False
        self._subs: list = []
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="archiver-flush")
        for name in self.pv_names:
            last = archive.last_time_ns(name)
            st = _PVState(last_ns=last, stored_ns=last)
            if st.last_ns is not None:  # we were stopped or killed: a gap until new data
                st.gap_start_ns, st.gap_reason = st.last_ns, "archiver not running"
            self._state[name] = st

    # ---- caproto callbacks (client threads) -------------------------------------------
    def _on_connection(self, pv, state: str) -> None:
        now_ns = time.time_ns()
        with self._lock:
            st = self._state[pv.name]
            if self._closing:
                return
            if state == "connected":
                st.connected = True
                return
            if state != "disconnected" or not st.connected:
                return
            st.connected = False
            if st.gap_start_ns is None:
                st.gap_start_ns = st.last_ns if st.last_ns is not None else now_ns
                st.gap_reason = "disconnected"
        log.warning("PV %s disconnected", pv.name)

    def _on_update(self, sub, response) -> None:
        stamp = response.metadata.stamp
        t_ns = (int(stamp.secondsSinceEpoch) + EPICS_TO_UNIX_S) * 1_000_000_000 + int(
            stamp.nanoSeconds
        )
        name = sub.pv.name
        try:
            value = float(response.data[0])  # scalar PVs; arrays: their first element
        except (TypeError, ValueError, IndexError):
            with self._lock:
                self.stats.unconvertible += 1
            if self.stats.unconvertible == 1:
                log.error("PV %s: value %r is not a number; not archived", name, response.data)
            return
        with self._lock:
            if self._closing:
                return
            self.stats.received += 1
            st = self._state[name]
            if st.last_ns is not None and t_ns <= st.last_ns:
                self.stats.duplicates += 1
                return
            if st.gap_start_ns is not None:
                self._pending_gaps.append((name, st.gap_start_ns, t_ns, st.gap_reason))
                st.gap_start_ns = None
            st.last_ns = t_ns
            st.times.append(t_ns)
            st.values.append(value)

    # ---- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        """Connect and subscribe (non-blocking): updates start to flow into the buffers."""
        from caproto.threading.client import Context

        self._ctx = Context()
        pvs = self._ctx.get_pvs(*self.pv_names, connection_state_callback=self._on_connection)
        for pv in pvs:
            sub = pv.subscribe(data_type="time")
            sub.add_callback(self._on_update)
            self._subs.append(sub)

    def flush(self) -> int:
        """Write buffered samples and completed gaps to the archive; returns rows written."""
        t0 = time.perf_counter()
        with self._lock:
            batches = []
            for name, st in self._state.items():
                if st.times:
                    batches.append((name, st.times, st.values))
                    st.times, st.values = [], []
            gaps, self._pending_gaps = self._pending_gaps, []
        # Gaps first: if we die between the two, the samples after a gap are never on disk
        # without the gap before them (the restart gap then overlaps it, which is honest).
        for name, start_ns, end_ns, reason in gaps:
            self.archive.record_gap(name, start_ns, end_ns, reason)
            log.warning("PV %s: gap of %.3f s (%s)", name, (end_ns - start_ns) / 1e9, reason)
        # one file per PV: write them in parallel (the fsyncs overlap; the GIL is released)
        written = sum(
            self._pool.map(
                lambda b: self.archive.append(
                    b[0], np.array(b[1], dtype=np.int64), np.array(b[2], dtype=np.float64)
                ),
                batches,
            )
        )
        with self._lock:
            for name, times, values in batches:
                st = self._state[name]
                st.stored_ns = max(times[-1], st.stored_ns or 0)
                st.stored_rows += len(values)
                st.stored_sum += float(np.sum(values))
        self.stats.written += written
        self.stats.gaps += len(gaps)
        self.stats.flushes += 1
        self.stats.last_flush_unix_s = time.time()
        if self.compact_every and self.stats.flushes % self.compact_every == 0:
            for name in self.pv_names:
                self.archive.compact(name)
        self.stats.flush_seconds += time.perf_counter() - t0
        return written

    def metrics_text(self) -> str:
        """The archiver's health in Prometheus text format (what ``--metrics-port`` serves).

        Per PV: the newest stored sample's time, rows written and the sum of the values
        written since start (``rate()`` of that sum is the PV's flow per second: protons on
        target per second for a POT-per-pulse PV), and whether it is connected.
        """
        from ..io.prometheus_text import metric_family

        with self._lock:
            s = ArchiverStats(**vars(self.stats))
            pvs = [
                (name, st.stored_ns, st.stored_rows, st.stored_sum, st.connected)
                for name, st in self._state.items()
            ]
        lines: list[str] = []
        for name, help_, value in (
            ("updates_received_total", "Monitor updates received.", s.received),
            ("rows_written_total", "Samples written to the archive.", s.written),
            (
                "duplicates_total",
                "Updates dropped as not newer than the last sample.",
                s.duplicates,
            ),
            ("gaps_total", "Gaps recorded (disconnects, restarts).", s.gaps),
            ("flushes_total", "Flushes of the buffers to disk.", s.flushes),
            ("flush_seconds_total", "Seconds spent flushing.", s.flush_seconds),
            ("unconvertible_total", "Updates whose value is not a number.", s.unconvertible),
        ):
            lines += metric_family(
                f"rarehub_archiver_{name}", help_, [({}, value)], type_="counter"
            )
        lines += metric_family(
            "rarehub_archiver_last_flush_timestamp_seconds",
            "Unix time of the last flush (0: none yet).",
            [({}, s.last_flush_unix_s)],
        )
        stored = [({"pv": n}, t / 1e9) for n, t, _, _, _ in pvs if t is not None]
        lines += metric_family(
            "rarehub_archiver_last_sample_timestamp_seconds",
            "Unix time of the newest sample of the PV stored in the archive.",
            stored,
        )
        lines += metric_family(
            "rarehub_archiver_pv_rows_written_total",
            "Samples of the PV written since start.",
            [({"pv": n}, rows) for n, _, rows, _, _ in pvs],
            type_="counter",
        )
        lines += metric_family(
            "rarehub_archiver_pv_value_sum_total",
            "Sum of the PV's values written since start (rate(): the PV's flow per second).",
            [({"pv": n}, total) for n, _, _, total, _ in pvs],
            type_="counter",
        )
        lines += metric_family(
            "rarehub_archiver_pv_connected",
            "1 if the PV's Channel Access circuit is connected.",
            [({"pv": n}, float(c)) for n, _, _, _, c in pvs],
        )
        return "\n".join(lines) + "\n"

    def run(self, duration_s: float | None = None) -> ArchiverStats:
        """Start, flush every ``flush_interval_s`` until :meth:`stop` or ``duration_s``."""
        self.start()
        deadline = None if duration_s is None else time.monotonic() + duration_s
        try:
            while not self._stop.is_set():
                wait = self.flush_interval_s
                if deadline is not None:
                    wait = min(wait, deadline - time.monotonic())
                    if wait <= 0:
                        break
                self._stop.wait(wait)
                self.flush()
        finally:
            self.close()
        return self.stats

    def stop(self) -> None:
        """Ask :meth:`run` to return after a final flush (safe from signal handlers)."""
        self._stop.set()

    def close(self) -> None:
        """Unsubscribe, flush what is buffered, record open gaps, then disconnect."""
        with self._lock:
            self._closing = True
        for sub in self._subs:
            try:
                sub.clear()
            except Exception:  # the circuit may already be gone
                log.debug("unsubscribe failed", exc_info=True)
        self._subs.clear()
        now_ns = time.time_ns()
        with self._lock:
            for name, st in self._state.items():
                if st.gap_start_ns is not None and st.gap_reason == "disconnected":
                    self._pending_gaps.append(
                        (name, st.gap_start_ns, now_ns, "disconnected until archiver stopped")
                    )
                    st.gap_start_ns = None
        self.flush()
        self._pool.shutdown(wait=True)
        if self._ctx is not None:
            ctx, self._ctx = self._ctx, None
            ctx.disconnect(wait=False)
