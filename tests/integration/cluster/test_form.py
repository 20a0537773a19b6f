"""The spawn form on the three-host cluster: what is free per partition (sinfo), the site's
accounts and reservations passed to sbatch, and Slurm's estimated start while pending."""

from __future__ import annotations

import json
import re

import multihost

from rarehub_testing import wait_for


def test_form_shows_what_is_free_and_sbatch_gets_account_and_reservation(
    cluster_hub, cluster_users
):
    hub, cluster, user = cluster_hub, cluster_hub.cluster, cluster_users[0]
    cluster.run(
        "scontrol", "create", "reservation", "ReservationName=rh-maint", "StartTime=now",
        "Duration=30", f"Users={user}", "Nodes=node2",
    )  # fmt: skip
    try:
        s, _ = hub.login(user)
        form = s.get(f"{hub.base}/hub/spawn/{user}", timeout=30).text
        assert re.search(
            r"<code>rarehub</code>: \d+ idle CPUs, \d+ GiB memory free on 2 node\(s\)", form
        ), form
        assert '<option value="physics">physics</option>' in form
        assert '<option value="rh-maint">rh-maint</option>' in form
        assert "rh-absent" not in form  # allowed, but Slurm has no such reservation
        r = hub.spawn(
            user,
            {"profile": "small", "walltime": "0:20", "account": "physics",
             "reservation": "rh-maint"},
        )  # fmt: skip
        assert r.status_code in (201, 202), r.text
        hub.wait_ready(user, timeout=120)
        job = hub.job_id(user)
        line = cluster.run("scontrol", "-o", "show", "job", job)
        assert "Account=physics " in line
        assert "Reservation=rh-maint " in line
        assert cluster.job_node(job) == "node2"  # the reservation's node
        hub.stop_server(user)
        r = hub.spawn(user, {"walltime": "0:20", "account": "physics --uid=0"})
        assert r.status_code == 400
        assert "account: 'physics --uid=0' is not allowed" in r.json()["message"]
    finally:
        hub.api("DELETE", f"/users/{user}/server")
        cluster.run("scontrol", "delete", "ReservationName=rh-maint")


def test_pending_page_shows_slurms_estimated_start(cluster_hub, cluster_users):
    hub, cluster, user = cluster_hub, cluster_hub.cluster, cluster_users[1]
    blockers = [
        cluster.sbatch("#!/bin/bash\nsleep 300\n", "-w", node, "-c", str(cluster.cpus),
                       "--mem=50M", "--time=3")
        for node in multihost.NODES
    ]  # fmt: skip
    try:
        for job in blockers:
            cluster.wait_state(job, {"RUNNING"}, timeout=30)
        assert hub.spawn(user, {"profile": "small", "walltime": "0:20"}).status_code == 202
        message = ""
        with hub.api("GET", f"/users/{user}/server/progress", stream=True, timeout=60) as r:
            for line in r.iter_lines(decode_unicode=True):
                if line.startswith("data:"):
                    message = json.loads(line[5:])["message"]
                    if "estimated start" in message:
                        break
        assert re.fullmatch(
            r"Slurm job \d+ pending: \w+; estimated start \d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?",
            message,
        ), message
    finally:
        hub.api("DELETE", f"/users/{user}/server")
        wait_for(lambda: not hub.server(user), timeout=60, what="pending spawn cancelled")
        cluster.scancel(*blockers)
