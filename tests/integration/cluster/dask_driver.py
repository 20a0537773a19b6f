"""Run on node1 as a user (what a notebook in the user's server does): Dask workers as Slurm
jobs through dask-jobqueue, the scheduler and every worker on the cluster network inside the
nodes' firewalled port range; the same computation locally and on the workers.

    python dask_driver.py LOW HIGH   → one JSON line on stdout
"""

from __future__ import annotations

import json
import socket
import sys

import numpy as np


def spectrum_power(seed: int) -> float:
    """A small deterministic computation: the power of a seeded trace's spectrum."""
    trace = np.random.default_rng(seed).normal(size=4096)
    return float(np.sum(np.abs(np.fft.rfft(trace)) ** 2))


def main() -> None:
    from dask_jobqueue import SLURMCluster
    from distributed import Client

    low, high = int(sys.argv[1]), int(sys.argv[2])
    cluster = SLURMCluster(
        queue="rarehub",
        cores=1,
        processes=1,
        memory="512MiB",
        walltime="00:10:00",
        python=sys.executable,
        interface="eth0",  # the node's cluster network, never another interface
        scheduler_options={"port": low, "dashboard_address": None},
        worker_extra_args=["--worker-port", f"{low + 1}:{low + 20}",
                           "--nanny-port", f"{low + 21}:{low + 40}"],
        job_extra_directives=["--output=/dev/null"],
    )  # fmt: skip
    try:
        cluster.scale(jobs=2)
        with Client(cluster) as client:
            client.wait_for_workers(2, timeout=120)
            seeds = list(range(16))
            remote = client.gather(client.map(spectrum_power, seeds))
            hosts = sorted(set(client.run(socket.gethostname).values()))
            workers = sorted(client.scheduler_info()["workers"])
            print(json.dumps({
                "scheduler": client.scheduler_info()["address"],
                "workers": workers,
                "hosts": hosts,
                "equal": remote == [spectrum_power(s) for s in seeds],
                "high": high,
            }), flush=True)  # fmt: skip
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
