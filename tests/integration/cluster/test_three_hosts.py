"""The three-host test cluster itself: own hostnames and addresses, a closed network, Slurm
across hosts, and each node's firewall open only for slurmd and the server port range."""

from __future__ import annotations

import subprocess
import sys

import multihost


def test_hosts_have_their_own_names_and_addresses_and_slurm_spans_them(multihost_cluster):
    c = multihost_cluster
    out = c.run("srun", "-N2", "--mem=50M", "sh", "-c", "echo $(hostname) $(hostname -i)")
    assert sorted(out.split("\n")[:2]) == ["node1 10.77.0.11", "node2 10.77.0.12"], out
    states = dict(line.split() for line in c.run("sinfo", "-h", "-N", "-o", "%N %T").splitlines())
    assert set(states) == {"node1", "node2"}


def test_the_network_is_closed(multihost_cluster):
    c = multihost_cluster
    for name, host in c.hosts.items():
        routes = subprocess.run(
            c.on(name, ["ip", "-4", "route"]), capture_output=True, text=True, check=True
        ).stdout
        assert "default" not in routes, f"{name} has a default route:\n{routes}"
        # Nothing outside 10.77.0.0/24 is routable: the kernel refuses before sending.
        r = subprocess.run(c.on(name, ["ip", "route", "get", "192.0.2.1"]), capture_output=True)
        assert r.returncode != 0, f"{name} can route to 192.0.2.1"
        assert host.address.startswith(multihost.SUBNET + ".")
    # The bridge has no address on the machine and only the three hosts' veths on it.
    addrs = subprocess.run(
        ["ip", "-o", "addr", "show", "dev", c.bridge], capture_output=True, text=True, check=True
    ).stdout
    assert " inet " not in addrs, addrs
    ports = subprocess.run(
        ["ip", "-o", "link", "show", "master", c.bridge], capture_output=True, text=True
    ).stdout
    on_bridge = {line.split(":")[1].strip().split("@")[0] for line in ports.splitlines()}
    assert on_bridge == {h.veth for h in c.hosts.values()}


def test_node_firewall_opens_only_slurmd_and_the_port_range(multihost_cluster):
    c = multihost_cluster
    low, high = multihost.PORT_RANGE
    node = c.address("node1")
    servers = []
    try:
        for port in (low, high, high + 1, 8888):
            servers.append(
                c.popen(
                    "node1",
                    [sys.executable, "-m", "http.server", "--bind", node, str(port)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        # On the node itself every server answers (loopback of rules aside, the address is
        # local), from login only those in the range.
        for port in (low, high, high + 1, 8888):
            assert multihost_wait(lambda p=port: c.can_connect("node1", node, p)), port
        assert c.can_connect("login", node, low)
        assert c.can_connect("login", node, high)
        assert not c.can_connect("login", node, high + 1)
        assert not c.can_connect("login", node, 8888)
        assert c.can_connect("login", node, multihost.SLURMD_PORT)
        # node2 → node1 (Dask workers to a scheduler) goes through the same rules.
        assert c.can_connect("node2", node, low)
        assert not c.can_connect("node2", node, 8888)
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(timeout=10)


def multihost_wait(check, timeout_s: float = 10) -> bool:
    from rarehub_testing import wait_for

    return bool(wait_for(check, timeout=timeout_s, what="server listening", every=0.2))
