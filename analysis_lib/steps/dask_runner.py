"""Run a pipeline over many runs on a Dask cluster: one task per run.

Each task builds its own :class:`Pipeline` from the step classes and configuration (step
instances hold per-run accumulators, so they are never shared between tasks) and streams
its run chunk by chunk, exactly as the local runner does; results land in the shared
storage root under their lineage keys. Works with any ``distributed.Client`` — a local
cluster (:func:`local_client`, on 127.0.0.1) or dask-jobqueue's ``SLURMCluster``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .core import Pipeline, RunInput, Step

__all__ = ["local_client", "make_on_dask", "make_run"]


def make_run(steps, config, storage, run: RunInput, targets, environment=None) -> dict[str, str]:
    """Task body: make ``targets`` for one run; returns ``{target: path}`` as strings."""
    pipe = Pipeline(steps, config, storage=storage, environment=environment)
    return {t: str(p) for t, p in pipe.make(run, targets).items()}


def local_client(n_workers: int = 2, *, threads: bool = True):
    """A ``distributed.Client`` on a LocalCluster bound to 127.0.0.1 (dashboard off)."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=1 if threads else n_workers,
        threads_per_worker=n_workers if threads else 1,
        processes=not threads,
        protocol="tcp://",  # TCP on loopback, also for threaded workers (not inproc)
        host="127.0.0.1",
        dashboard_address=None,
    )
    return Client(cluster)


def make_on_dask(
    steps: Sequence[type[Step]],
    config: Mapping[str, Mapping[str, Any]] | None,
    storage: str | Path,
    runs: Sequence[RunInput],
    targets: Sequence[str],
    *,
    client=None,
    n_workers: int = 2,
    environment: Mapping[str, str] | None = None,
) -> list[dict[str, str] | Exception]:
    """Make ``targets`` for every run on Dask; per run its paths or the exception raised.

    The pipeline is validated here first, so configuration errors surface before any task
    is submitted. Without ``client`` a local threaded cluster is started and closed.
    ``environment`` is recorded in each lineage JSON (see :class:`Pipeline`).
    """
    Pipeline(steps, config, storage=storage)  # fail fast, in the caller's process
    own = client is None
    if own:
        client = local_client(n_workers)
    try:
        futures = [
            client.submit(
                make_run,
                list(steps),
                dict(config or {}),
                str(storage),
                run,
                list(targets),
                dict(environment or {}),
                key=f"rarehub-process-{run.run_id}-{i}",
                pure=False,
            )
            for i, run in enumerate(runs)
        ]
        out: list[dict[str, str] | Exception] = []
        for f in futures:
            try:
                out.append(f.result())
            except Exception as e:  # reported per run by the caller
                out.append(e)
        return out
    finally:
        if own:
            cluster = client.cluster
            client.close()
            cluster.close()
