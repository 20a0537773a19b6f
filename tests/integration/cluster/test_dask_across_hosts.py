"""Dask across hosts: from node1 (where a user's server runs), dask-jobqueue submits workers
as Slurm jobs that land on both nodes; scheduler and workers talk over the cluster network
through the nodes' firewalls (ports inside the open range); results equal the local run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import multihost

from rarehub_testing import wait_for

DRIVER = Path(__file__).with_name("dask_driver.py")


def test_dask_workers_on_both_nodes_give_the_local_results(multihost_cluster, cluster_users):
    c, user = multihost_cluster, cluster_users[2]
    low = multihost.PORT_RANGE[0] + 150  # the servers' range ends at +99
    r = subprocess.run(
        c.on("node1", ["runuser", "-u", user, "--", "env", f"SLURM_CONF={c.conf}",
                       "HOME=/tmp", sys.executable, str(DRIVER), str(low), str(low + 40)],
             uts=True),
        capture_output=True,
        text=True,
        timeout=240,
        cwd="/tmp",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["equal"] is True
    assert result["hosts"] == ["node1", "node2"], result
    assert result["scheduler"] == f"tcp://{c.address('node1')}:{low}"
    for worker in result["workers"]:
        host, port = worker.removeprefix("tcp://").rsplit(":", 1)
        assert host in (c.address("node1"), c.address("node2"))
        assert low < int(port) <= low + 20  # inside what the firewall opens
    # The workers' jobs end with the SLURMCluster object.
    wait_for(lambda: not c.squeue(), timeout=60, what="worker jobs gone")
