"""Faults on the three-host cluster, each with the hub on ``login`` and servers on the nodes:
a node cut off and restored, the controller restarted, the hub restarted, a job requeued.
Nothing is orphaned: every test ends with its servers stopped and their jobs gone."""

from __future__ import annotations

import contextlib
import time

import multihost
import pytest
import requests

from rarehub_testing import wait_for

#: What the hub's poll may add to two poll intervals: its TCP check's timeout and slack.
CHECK_SLACK_S = 3.0


@pytest.fixture
def stop_afterwards(cluster_hub):
    """Users whose servers are stopped (and jobs gone) when the test ends, passed or not."""
    users: list[str] = []
    yield users
    for user in users:
        with contextlib.suppress(Exception):
            cluster_hub.api("DELETE", f"/users/{user}/server", timeout=30)
    for user in users:
        with contextlib.suppress(Exception):
            wait_for(lambda u=user: not cluster_hub.server(u), timeout=60, what="stopped")


def spawn_ready(hub, user: str) -> str:
    r = hub.spawn(user, {"profile": "small", "walltime": "0:20"})
    assert r.status_code in (201, 202), r.text
    hub.wait_ready(user, timeout=120)
    return hub.job_id(user)


def lab_session(hub, user: str) -> requests.Session:
    s, _ = hub.login(user)
    assert s.get(f"{hub.base}/user/{user}/lab", timeout=30).status_code == 200
    return s


def status_code(s: requests.Session, hub, user: str) -> int:
    return s.get(f"{hub.base}/user/{user}/api/status", timeout=10).status_code


def test_a_node_cut_off_shows_unreachable_at_once_and_comes_back(
    cluster_hub, cluster_users, poll_interval_s, stop_afterwards
):
    hub, cluster, user = cluster_hub, cluster_hub.cluster, cluster_users[2]
    stop_afterwards.append(user)
    # node1 full, so the server lands on node2.
    blocker = cluster.sbatch("#!/bin/bash\nsleep 300\n", "-w", "node1", "-c", "2", "--mem=50M")
    try:
        cluster.wait_state(blocker, {"RUNNING"}, timeout=30)
        job = spawn_ready(hub, user)
    finally:
        cluster.scancel(blocker)
    assert cluster.job_node(job) == "node2"
    s = lab_session(hub, user)
    assert status_code(s, hub, user) == 200

    cluster.cut("node2")
    cut_at = time.monotonic()
    try:
        # The user reloads every half second and gives each load 2 s: a load sent before
        # the hub noticed waits on the dead address, one sent after is answered at once.
        def unreachable():
            t0 = time.monotonic()
            r = s.get(f"{hub.base}/user/{user}/api/status", timeout=2)
            return r.status_code == 503 and (r.json(), time.monotonic() - t0)

        body, answer_s = wait_for(unreachable, timeout=60, what="unreachable page", every=0.5)
        seen_s = time.monotonic() - cut_at
        assert body == {"status": 503, "message": "server unreachable"}
        assert seen_s <= 2 * poll_interval_s + CHECK_SLACK_S, f"seen after {seen_s:.1f} s"
        assert answer_s < 2, f"the page took {answer_s:.1f} s"
        page = s.get(f"{hub.base}/user/{user}/lab", timeout=10)
        assert page.status_code == 503
        assert "Your server does not answer" in page.text
        # The hub keeps the job and the server record; Slurm still runs it.
        assert hub.server(user).get("ready")
        assert hub.job_id(user) == job
        assert cluster.squeue(job) == {job: "RUNNING"}
        assert "does not answer: users see the unreachable page" in hub.log.read_text()
    finally:
        cluster.restore("node2")
    restored_at = time.monotonic()
    wait_for(
        lambda: s.get(f"{hub.base}/user/{user}/api/status", timeout=2).status_code == 200,
        timeout=60,
        what="server back",
    )
    back_s = time.monotonic() - restored_at
    assert back_s <= 2 * poll_interval_s + CHECK_SLACK_S, f"back after {back_s:.1f} s"
    assert hub.job_id(user) == job
    hub.stop_server(user)
    cluster.wait_state(job, {"GONE", "CANCELLED", "COMPLETED"}, timeout=30)


def test_controller_and_hub_restarts_keep_servers_on_both_nodes(
    cluster_hub, cluster_users, stop_afterwards
):
    hub, cluster = cluster_hub, cluster_hub.cluster
    users = cluster_users[:2]
    stop_afterwards.extend(users)
    jobs = {user: spawn_ready(hub, user) for user in users}
    assert {cluster.job_node(j) for j in jobs.values()} == {"node1", "node2"}
    sessions = {user: lab_session(hub, user) for user in users}

    multihost.stop_daemon(cluster, "slurmctld")
    try:
        time.sleep(4)  # more than a poll interval without a controller
        for user in users:
            assert hub.server(user).get("ready"), "server dropped while slurmctld was down"
            assert status_code(sessions[user], hub, user) == 200
    finally:
        multihost.start_daemon(cluster, "slurmctld", "login")
    wait_for(lambda: cluster.squeue() is not None, timeout=60, what="slurmctld back")
    for job in jobs.values():
        assert cluster.squeue(job) == {job: "RUNNING"}

    hub.stop()
    for job in jobs.values():
        assert cluster.squeue(job) == {job: "RUNNING"}, "a job must outlive the hub"
    hub.start()
    for user, job in jobs.items():
        server = hub.wait_ready(user, timeout=60)
        assert server["state"]["job_id"] == job
        s = lab_session(hub, user)  # a new proxy: the routes were added again
        assert status_code(s, hub, user) == 200
    for user, job in jobs.items():
        hub.stop_server(user)
        cluster.wait_state(job, {"GONE", "CANCELLED", "COMPLETED"}, timeout=30)


def test_a_requeued_job_is_stopped_not_routed_to_its_old_address(
    cluster_hub, cluster_users, stop_afterwards
):
    hub, cluster, user = cluster_hub, cluster_hub.cluster, cluster_users[0]
    stop_afterwards.append(user)
    job = spawn_ready(hub, user)
    cluster.run("scontrol", "requeue", job)
    wait_for(lambda: not hub.server(user), timeout=60, what="requeued server stopped")
    assert f"Job {job} of {user} was requeued" in hub.log.read_text()
    assert hub.job_id(user) == ""
    cluster.wait_state(job, {"GONE", "CANCELLED"}, timeout=60)
