"""The hub on ``login`` spawns servers on both nodes, across the cluster network.

Servers bind ``server_ip: auto``: each node's own cluster address (not loopback, not all
interfaces), on a port inside the range the node's firewall opens; the hub and its proxy on
``login`` route to that address, and the user reaches JupyterLab through the hub.
"""

from __future__ import annotations

import re
import subprocess

import multihost

from rarehub_testing import wait_for


def listening(cluster, host: str, port: int) -> list[str]:
    out = subprocess.run(
        cluster.on(host, ["ss", "-Hltn"]), capture_output=True, text=True, check=True
    ).stdout
    return [line.split()[3] for line in out.splitlines() if line.split()[3].endswith(f":{port}")]


def test_spawns_land_on_both_nodes_bound_to_their_cluster_address(cluster_hub, cluster_users):
    hub, cluster = cluster_hub, cluster_hub.cluster
    users = cluster_users[:2]
    try:
        spawn_on_both(hub, cluster, users)
    finally:
        for user in users:
            hub.api("DELETE", f"/users/{user}/server")
        for user in users:
            wait_for(lambda u=user: not hub.server(u), timeout=60, what="stopped")


def spawn_on_both(hub, cluster, users: list[str]) -> None:
    for user in users:
        r = hub.spawn(user, {"profile": "small", "walltime": "0:20"})
        assert r.status_code in (201, 202), r.text
    placed = {}
    for user in users:
        hub.wait_ready(user, timeout=120)
        job = hub.job_id(user)
        node = cluster.job_node(job)
        m = re.search(rf"Server job {job} of {user} at ([0-9.]+):([0-9]+)", hub.log.read_text())
        assert m, hub.log.read_text()[-3000:]
        address, port = m[1], int(m[2])
        placed[node] = (user, address, port)
        assert address == cluster.address(node), f"{user}'s server on {node} bound {address}"
        low, _ = multihost.PORT_RANGE
        assert low <= port <= low + 99
        # Bound to the node's cluster address only: not loopback, not every interface.
        assert listening(cluster, node, port) == [f"{address}:{port}"]
        s, _ = hub.login(user)
        r = s.get(f"{hub.base}/user/{user}/lab", timeout=30)  # OAuth sets the server's cookie
        assert r.status_code == 200
        assert "JupyterLab" in r.text
        r = s.get(f"{hub.base}/user/{user}/api/status", timeout=30)
        assert r.status_code == 200, r.text
    assert set(placed) == {"node1", "node2"}, placed
