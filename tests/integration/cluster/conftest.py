"""One three-host cluster (tests/support/multihost.py) and one hub on its login host, shared
by every test of this folder: ``login`` runs slurmctld, the hub and the proxy; ``node1`` and
``node2`` run a slurmd each, behind an nftables firewall that opens only the server range.
A PostgreSQL server on ``login`` (``cluster_postgres``) is the site's catalog server."""

from __future__ import annotations

import multihost
import pytest
import slurm

from rarehub_testing import REPO

PASSWORD = "cluster-test-password"
ADMIN_TOKEN = "rarehub-cluster-admin-token-0123456789abcdef"
#: Unix users of these tests only (other test folders use their own: homes are shared).
USERS = ["rarehub-c1", "rarehub-c2", "rarehub-c3"]
POLL_INTERVAL_S = 3


@pytest.fixture(scope="session")
def cluster_users() -> list[str]:
    return list(USERS)


@pytest.fixture(scope="session")
def poll_interval_s() -> float:
    """The hub's poll interval (site ``slurm.poll_interval_s``) in these tests."""
    return POLL_INTERVAL_S


@pytest.fixture(scope="session")
def multihost_cluster():
    why = multihost.missing_requirements()
    if why:
        pytest.skip(f"no three-host cluster: {why}")
    with multihost.start_multihost_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def cluster_hub(multihost_cluster, tmp_path_factory):
    """The hub on ``login``; servers bind ``server_ip: auto`` (the node's cluster address)."""
    for user in USERS:
        slurm.ensure_unix_user(user)
    low = multihost.PORT_RANGE[0]
    site = {
        # Jobs import rarehub_hub from this checkout (sudo drops PYTHONPATH).
        "job_environment": {"PYTHONPATH": f"{REPO}:{REPO / 'hub'}"},
        "port_range": [low, low + 99],
        "squeue_interval_s": 2,
        "poll_interval_s": POLL_INTERVAL_S,
        "start_timeout_s": 120,
        "limits": {
            "partitions": [multihost_cluster.partition],
            "cpus": [1, 1],
            "memory_GiB": [1, 1],
            "walltime_minutes": [5, 60],
            # No accounting here (sacctmgr does not answer): the allow-list is offered as is.
            "accounts": ["physics", "chemistry"],
            # Only reservations that exist are offered; rh-absent never does.
            "reservations": ["rh-maint", "rh-absent"],
        },
        "profiles": [{"name": "small", "display_name": "1 CPU, 1 GiB", "cpus": 1, "memory_GiB": 1}],
    }
    with multihost.running_hub(
        multihost_cluster,
        tmp_path_factory.mktemp("cluster-hub"),
        users=USERS,
        password=PASSWORD,
        admin_token=ADMIN_TOKEN,
        slurm=site,
    ) as hub:
        yield hub


@pytest.fixture(scope="session")
def cluster_postgres(multihost_cluster):
    """A PostgreSQL server on ``login`` (tests/support/postgres.py): its processes inside
    login's network namespace, listening on login's cluster address only, password logins
    from the cluster network. Connections and lock waits longer than ``deadlock_timeout``
    (1 s) are logged (``base / "postgres.log"``). The machine reaches it through
    ``multihost_cluster.forward("login", port)``, or as superuser over its unix socket."""
    import postgres

    why = postgres.missing_requirements()
    if why:
        pytest.skip(f"no PostgreSQL server: {why}")
    with postgres.start_postgres(
        netns=multihost_cluster.login.netns_path,
        listen=multihost_cluster.login.address,
        client_networks=[f"{multihost.SUBNET}.0/24"],
        settings={"log_connections": "on", "log_lock_waits": "on"},
    ) as server:
        yield server
