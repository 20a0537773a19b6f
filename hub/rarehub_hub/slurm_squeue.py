"""One ``squeue`` for all the hub's Slurm jobs (batchspawner #292), shared by every spawner.

A failed ``squeue`` is "unknown", never "job gone" (batchspawner #315, #171, #134): callers get
the error text and conclude nothing from it. Neither is silence: a job missing from an
``squeue`` that exited 0 (empty output, a banner, ``PrivateData=jobs``, a changed format) is
asked about by id (:func:`confirm_job`, ``scontrol show job ID``) before anyone calls it gone,
and a state this module does not know (:func:`classify`) is "unknown" too. Fresh requests
that arrive while a call is in flight share the next call.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
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

#: Slurm job states, by what they mean for a server. A state in none of these sets (Slurm has
#: more, e.g. STOPPED, SIGNALING, SPECIAL_EXIT, RESV_DEL_HOLD, and adds new ones) is
#: *unknown*: the job is neither alive for sure nor gone, and nothing is concluded from it.
RUNNING_STATES = frozenset({"RUNNING", "COMPLETING", "STAGE_OUT"})
PENDING_STATES = frozenset(
    {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SUSPENDED"}
)
FINISHED_STATES = frozenset(
    {
        "COMPLETED",
        "CANCELLED",
        "FAILED",
        "TIMEOUT",
        "NODE_FAIL",
        "PREEMPTED",
        "BOOT_FAIL",
        "DEADLINE",
        "OUT_OF_MEMORY",
        "REVOKED",
    }
)
#: States of a job that Slurm put back in the queue: a server's address is stale.
REQUEUE_STATES = frozenset({"REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED"})


def classify(state: str) -> str:
    """``running``, ``pending``, ``finished`` or ``unknown`` for a Slurm job state."""
    if state in RUNNING_STATES:
        return "running"
    if state in PENDING_STATES:
        return "pending"
    if state in FINISHED_STATES:
        return "finished"
    return "unknown"


@dataclass(frozen=True)
class JobInfo:
    """One job as ``squeue`` (or ``scontrol show job``) lists it. ``start`` is Slurm's start
    time as printed (``N/A`` or a future estimate while pending); it changes when the job is
    requeued and starts again."""

    state: str
    node: str = ""
    reason: str = ""
    start: str = ""

    @property
    def kind(self) -> str:
        return classify(self.state)


@dataclass
class Snapshot:
    """One ``squeue`` call's answer. ``jobs`` is None when the call failed."""

    started: float
    jobs: dict[str, JobInfo] | None
    error: str = ""
    garbled: int = 0  # lines of a successful squeue that were not job lines


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
    def shared(
        cls, command: tuple[str, ...], env: Mapping[str, str] | None, timeout_s: float = 30.0
    ) -> SqueueBatcher:
        key = (command, tuple(sorted((env or {}).items())), timeout_s)
        if key not in cls._instances:
            cls._instances[key] = cls(command, dict(env) if env is not None else None, timeout_s)
        return cls._instances[key]

    async def snapshot(self, max_age_s: float, newer_than: float = 0.0) -> Snapshot:
        while True:
            now = time.monotonic()
            last = self._last
            if last is not None and now - last.started <= max_age_s and last.started >= newer_than:
                return last
            if self._inflight is None or self._inflight.done():
                break
            if self._inflight_started >= newer_than:
                return await asyncio.shield(self._inflight)
            # A call started before the caller's moment is in flight: let it end, then look
            # again — another waiter may have started the newer call that answers us too.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._inflight)
        self._inflight_started = time.monotonic()
        self._inflight = asyncio.ensure_future(self._run(self._inflight_started))
        return await asyncio.shield(self._inflight)

    async def _run(self, started: float) -> Snapshot:
        self.calls += 1
        SQUEUE_CALLS.inc()
        code, out, err = await run_slurm(list(self.command), self.env, self.timeout_s)
        if code is None:
            snap = Snapshot(started, None, f"squeue {err}")
        elif code != 0:
            snap = Snapshot(started, None, f"squeue failed ({code}): {err}")
        else:
            jobs, garbled = parse_squeue_lines(out)
            snap = Snapshot(started, jobs, garbled=garbled)
        if snap.jobs is None:
            SQUEUE_FAILURES.inc()
        if self._last is None or snap.started >= self._last.started:
            self._last = snap
        return snap


async def run_slurm(
    argv: list[str],
    env: Mapping[str, str] | None,
    timeout_s: float | None,
    input: str | None = None,
) -> tuple[int | None, str, str]:
    """Run a Slurm command (an argument list, no shell): ``(exit code, stdout, stderr)``.
    ``input`` goes to its stdin (sbatch reads the job script there). The exit code is None
    when it did not run (stderr says why) or gave no answer within ``timeout_s`` (None: no
    limit) — then its whole process group is killed (a wrapper's children too)."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env=dict(env) if env is not None else None,
            stdin=asyncio.subprocess.DEVNULL if input is None else asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as e:
        return None, "", f"could not run: {e}"
    try:
        stdin = None if input is None else input.encode()
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout_s)
    except (TimeoutError, asyncio.CancelledError) as e:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        if isinstance(e, asyncio.CancelledError):
            raise
        return None, "", f"gave no answer in {timeout_s} s"
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace").strip()


#: Reason last: it is free text (it may hold a ``|``), everything before it is not.
SQUEUE_FORMAT = "%i|%T|%N|%S|%r"
_JOB_ID = re.compile(r"^[0-9]+(_[0-9]+)?$")
_STATE = re.compile(r"^[A-Z_]+$")


def parse_squeue_lines(text: str) -> tuple[dict[str, JobInfo], int]:
    """Parse ``squeue -h -o '%i|%T|%N|%S|%r'`` output: job id → :class:`JobInfo`, and how
    many non-empty lines were not job lines (a login banner, a changed format …)."""
    jobs = {}
    garbled = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.strip().split("|", 4)
        if len(parts) == 5 and _JOB_ID.match(parts[0]) and _STATE.match(parts[1]):
            jobs[parts[0]] = JobInfo(parts[1], parts[2], parts[4], parts[3])
        else:
            garbled += 1
    return jobs, garbled


def parse_squeue(text: str) -> dict[str, JobInfo]:
    """Job id → :class:`JobInfo` from ``squeue -h -o SQUEUE_FORMAT`` (garbled lines dropped)."""
    return parse_squeue_lines(text)[0]


_SCONTROL_FIELD = re.compile(r"(?:^|\s)(JobId|JobState|Reason|NodeList|StartTime)=(\S*)")


def parse_scontrol_job(text: str, job_id: str) -> JobInfo | None:
    """The :class:`JobInfo` of ``job_id`` in ``scontrol -o show job ID`` output; None if the
    output does not describe that job (then nothing can be concluded from it)."""
    for line in text.splitlines():
        fields = dict(_SCONTROL_FIELD.findall(line))
        if fields.get("JobId") == job_id and _STATE.match(fields.get("JobState", "")):
            node = fields.get("NodeList", "")
            return JobInfo(
                fields["JobState"],
                "" if node == "(null)" else node,
                fields.get("Reason", ""),
                fields.get("StartTime", ""),
            )
    return None


#: What ``scontrol show job``/``scancel`` print for a job the controller no longer knows.
INVALID_JOB = "Invalid job id specified"


async def confirm_job(
    argv: list[str], job_id: str, env: Mapping[str, str] | None, timeout_s: float = 30.0
) -> JobInfo | str | None:
    """Ask Slurm about one job by id (``argv``: ``… scontrol -o show job ID``), when it was
    missing from an ``squeue`` that exited 0. Its :class:`JobInfo`; None only when the
    controller answers that it does not know the job; otherwise the error text (unknown)."""
    code, text, errors = await run_slurm(argv, env, timeout_s)
    if code is None:
        return f"scontrol {errors}"
    if code != 0:
        if INVALID_JOB in errors:
            return None
        return f"scontrol failed ({code}): {errors}"
    info = parse_scontrol_job(text, job_id)
    if info is None:
        return f"scontrol show job {job_id}: no such job in its answer {text[:200]!r}"
    return info
