"""Timing and options shared by the benchmarks (a helper module, not a benchmark: no
``bench_`` prefix)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` calls of ``fn``, in seconds (the least disturbed by load)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


SMOKE_HELP = "tiny sizes, no targets: only checks that it runs (tests/benchmarks)"


def parse_args(parser: argparse.ArgumentParser, *, smoke: dict[str, object]) -> argparse.Namespace:
    """Parse the benchmark's options plus ``--smoke``, which replaces them by ``smoke``'s
    tiny values (the suite runs every benchmark so, in seconds: tests/benchmarks)."""
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if args.smoke:
        for name, value in smoke.items():
            setattr(args, name, value)
    return args


def bare_job_seconds(cluster, repeats: int, *sbatch_args: str, user: str) -> list[float]:
    """Seconds from ``sbatch`` to RUNNING of a bare ``sleep`` job, ``repeats`` times: the
    baseline the hub's spawn times are divided by. ``cluster`` is a test Slurm cluster
    (tests/support: slurm.py on loopback, multihost.py on three hosts)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        job = cluster.sbatch("#!/bin/bash\nsleep 120\n", "--mem=64M", "--time=5", *sbatch_args,
                             user=user)  # fmt: skip
        deadline = time.monotonic() + 60
        while (state := cluster.squeue(job).get(job)) != "RUNNING":
            if state is None or time.monotonic() > deadline:
                raise RuntimeError(f"bare job {job} is {state}, not RUNNING")
            time.sleep(0.05)
        times.append(time.perf_counter() - t0)
        cluster.scancel(job)
        cluster.wait_state(job, {"GONE", "CANCELLED", "COMPLETED"})
    return times
