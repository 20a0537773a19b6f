"""One ``squeue`` for all the hub's Slurm jobs (batchspawner #292), shared by every spawner.

A failed ``squeue`` is "unknown", never "job gone" (batchspawner #315, #171, #134): callers get
the error text and conclude nothing from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from prometheus_client import Counter, Histogram

# Exposed on the hub's /hub/metrics with JupyterHub's own (same default registry).
QUEUE_WAIT = Histogram(
    "rarehub_slurm_queue_wait_seconds",
    "Seconds from sbatch to the server's job RUNNING",
    buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, float("inf")),
)
SQUEUE_CALLS = Counter("rarehub_slurm_squeue_calls", "squeue runs (one per interval for all)")
SQUEUE_FAILURES = Counter("rarehub_slurm_squeue_failures", "squeue runs that failed")

RUNNING_STATES = {"RUNNING", "COMPLETING", "STAGE_OUT"}
PENDING_STATES = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "RESIZING", "SUSPENDED"}


@dataclass(frozen=True)
class JobInfo:
    """One job as ``squeue`` lists it."""

    state: str
    node: str = ""
    reason: str = ""


@dataclass
class Snapshot:
    """One ``squeue`` call's answer. ``jobs`` is None when the call failed."""

    started: float
    jobs: dict[str, JobInfo] | None
    error: str = ""


@dataclass
class SqueueBatcher:
    """One ``squeue`` for all the hub's jobs, shared by every spawner.

    ``snapshot(max_age_s, newer_than)`` returns the latest answer if it is recent enough, joins
    a call already in flight, or starts one. ``calls`` counts the ``squeue`` runs.
    """

    command: tuple[str, ...]
    env: Mapping[str, str] | None = None
    timeout_s: float = 30.0
    calls: int = 0
    _last: Snapshot | None = None
    _inflight: asyncio.Future | None = None
    _inflight_started: float = 0.0

    _instances: ClassVar[dict] = {}

    @classmethod
    def shared(cls, command: tuple[str, ...], env: Mapping[str, str] | None) -> SqueueBatcher:
        key = (command, tuple(sorted((env or {}).items())))
        if key not in cls._instances:
            cls._instances[key] = cls(command, dict(env) if env is not None else None)
        return cls._instances[key]

    async def snapshot(self, max_age_s: float, newer_than: float = 0.0) -> Snapshot:
        now = time.monotonic()
        last = self._last
        if last is not None and now - last.started <= max_age_s and last.started >= newer_than:
            return last
        if self._inflight is not None and not self._inflight.done():
            if self._inflight_started >= newer_than:
                return await asyncio.shield(self._inflight)
            with contextlib.suppress(Exception):
                await asyncio.shield(self._inflight)
        self._inflight_started = time.monotonic()
        self._inflight = asyncio.ensure_future(self._run(self._inflight_started))
        return await asyncio.shield(self._inflight)

    async def _run(self, started: float) -> Snapshot:
        self.calls += 1
        SQUEUE_CALLS.inc()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.command,
                env=dict(self.env) if self.env is not None else None,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                out, err = await asyncio.wait_for(proc.communicate(), self.timeout_s)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                snap = Snapshot(started, None, f"squeue gave no answer in {self.timeout_s} s")
            else:
                if proc.returncode != 0:
                    text = err.decode(errors="replace").strip()
                    snap = Snapshot(started, None, f"squeue failed ({proc.returncode}): {text}")
                else:
                    snap = Snapshot(started, parse_squeue(out.decode(errors="replace")))
        except OSError as e:
            snap = Snapshot(started, None, f"squeue could not run: {e}")
        if snap.jobs is None:
            SQUEUE_FAILURES.inc()
        if self._last is None or snap.started >= self._last.started:
            self._last = snap
        return snap


SQUEUE_FORMAT = "%i|%T|%N|%r"


def parse_squeue(text: str) -> dict[str, JobInfo]:
    """Parse ``squeue -h -o '%i|%T|%N|%r'`` output into job id → :class:`JobInfo`."""
    jobs = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 4 and parts[0]:
            jobs[parts[0]] = JobInfo(parts[1], parts[2], parts[3])
    return jobs
