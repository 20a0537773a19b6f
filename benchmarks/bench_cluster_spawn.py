"""Hub across hosts on the three-host cluster: spawn against bare sbatch, many users at once,
and the hub's event-loop lag during a fault — in one run.

    sudo /opt/rarehub/venv/bin/python benchmarks/bench_cluster_spawn.py [--users 20] [--smoke]

(From a working tree: ``PYTHONPATH=$PWD:$PWD/hub`` so the hub runs this tree's rarehub_hub;
the jobs import it from the checkout.) Starts the three-host cluster the cluster tests use
(tests/support/multihost.py: ``login`` runs slurmctld, the hub and its proxy; ``node1``,
``node2`` run slurmd behind their firewalls) and measures:

1. bare ``sbatch`` → ``RUNNING`` of a job on a node (the scheduler's own latency);
2. hub spawn, ``POST /users/{name}/server`` → ready, with the server on a node and the hub
   on ``login`` (across the cluster network). Target (issue #15): ≤ 1.5 × (1) + 2 s;
3. ``--users`` users spawning at once through the REST API: all ready; p50/p95 spawn time;
   ``squeue`` calls per interval from the hub's own counter (while servers start, spawners
   ask every 0.5 s: target ≤ 1 call per 0.5 s, shared by all users); the hub's CPU seconds
   per poll interval;
4. the hub's event-loop lag (JupyterHub's ``event_loop_interval_seconds``) while node2 is cut
   off with servers on it (target ≤ 0.5 s).

``--smoke``: one repeat, two users, a short fault: seconds, same printout.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "support"), str(REPO / "hub")]

import multihost  # noqa: E402
import requests  # noqa: E402
import slurm  # noqa: E402
from _timing import bare_job_seconds, parse_args  # noqa: E402

from rarehub_testing import wait_for  # noqa: E402

TOKEN = "rarehub-bench-cluster-token-0123456789"
SQUEUE_INTERVAL_S = 2.0
POLL_INTERVAL_S = 3
#: While servers start, the spawner asks every 0.5 s (site.py: startup_poll_interval).
STARTUP_POLL_S = 0.5


def metric(text: str, name: str) -> float:
    m = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.M)
    return float(m[1]) if m else 0.0


def loop_buckets(text: str) -> dict[float, float]:
    """JupyterHub's event-loop histogram: upper bound (s) → cumulative count."""
    out = {}
    pattern = r'^jupyterhub_event_loop_interval_seconds_bucket\{le="([^"]+)"\} ([0-9.e+-]+)$'
    for le, count in re.findall(pattern, text, re.M):
        out[float(le)] = float(count)
    return out


def max_lag_s(before: dict[float, float], after: dict[float, float]) -> float:
    """The smallest bucket bound that holds every tick observed between two scrapes."""
    new_total = after.get(float("inf"), 0) - before.get(float("inf"), 0)
    for bound in sorted(after):
        if after[bound] - before.get(bound, 0) >= new_total:
            return bound
    return float("inf")


def hub_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spawn_and_wait(hub, user: str) -> float:
    t0 = time.perf_counter()
    r = hub.spawn(user, {"profile": "small", "walltime": "0:20"})
    assert r.status_code in (201, 202), r.text
    wait_for(lambda: hub.server(user).get("ready"), timeout=300, what=user, every=0.1)
    return time.perf_counter() - t0


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # tear the cluster down
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--fault-s", type=float, default=15.0, help="node2 cut off this long")
    args = parse_args(parser, smoke={"repeats": 1, "users": 2, "fault_s": POLL_INTERVAL_S})
    why = multihost.missing_requirements()
    if why:
        print(f"cannot run: {why}", file=sys.stderr)
        raise SystemExit(77)  # a component is missing (the suite's smoke test skips)
    users = [f"rarehub-b{i}" for i in range(max(args.users, 1))]
    for user in users:
        slurm.ensure_unix_user(user)
    per_node = (args.users + 1) // 2 + 1
    with (
        multihost.start_multihost_cluster(
            node_cpus=per_node, node_memory_MiB=1024 * per_node + 512
        ) as cluster,
        tempfile.TemporaryDirectory() as tmp,
    ):
        running = bare_job_seconds(cluster, args.repeats, user=users[0])
        site = {
            "job_environment": {"PYTHONPATH": f"{REPO}:{REPO / 'hub'}"},
            "port_range": list(multihost.PORT_RANGE),
            "squeue_interval_s": SQUEUE_INTERVAL_S,
            "poll_interval_s": POLL_INTERVAL_S,
            "start_timeout_s": 300,
            "limits": {"partitions": [cluster.partition], "cpus": [1, 1], "memory_GiB": [1, 1]},
            "profiles": [{"name": "small", "display_name": "small", "cpus": 1, "memory_GiB": 1}],
        }
        with multihost.running_hub(
            cluster, Path(tmp), users=users, password="bench-password", admin_token=TOKEN,
            slurm=site,
        ) as hub:  # fmt: skip
            spawn = []
            for _ in range(args.repeats):
                spawn.append(spawn_and_wait(hub, users[0]))
                hub.stop_server(users[0], timeout=60)

            def scrape() -> str:
                r = requests.get(f"{hub.base}/hub/metrics", headers=hub.headers, timeout=30)
                r.raise_for_status()
                return r.text

            before = scrape()
            cpu0, t0 = hub_cpu_s(hub.proc.pid), time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(len(users)) as pool:
                many = list(pool.map(lambda u: spawn_and_wait(hub, u), users))
            wall = time.perf_counter() - t0
            cpu = hub_cpu_s(hub.proc.pid) - cpu0
            after = scrape()
            calls = metric(after, "rarehub_slurm_squeue_calls_total") - metric(
                before, "rarehub_slurm_squeue_calls_total"
            )
            nodes = {cluster.job_node(hub.job_id(u)) for u in users}

            before = scrape()
            cluster.cut("node2")
            time.sleep(args.fault_s)
            during = scrape()
            cluster.restore("node2")
            time.sleep(POLL_INTERVAL_S if args.smoke else 2 * POLL_INTERVAL_S)
            fault_lag = max_lag_s(loop_buckets(before), loop_buckets(during))
            recovery_lag = max_lag_s(loop_buckets(during), loop_buckets(scrape()))
            # the controller restarted while the servers run
            before = scrape()
            multihost.stop_daemon(cluster, "slurmctld")
            time.sleep(POLL_INTERVAL_S if args.smoke else 2 * POLL_INTERVAL_S)
            multihost.start_daemon(cluster, "slurmctld", "login")
            wait_for(lambda: cluster.squeue() is not None, timeout=60, what="slurmctld")
            time.sleep(POLL_INTERVAL_S)
            controller_lag = max_lag_s(loop_buckets(before), loop_buckets(scrape()))
            kept = sum(bool(hub.server(u).get("ready")) for u in users)
            lost = [
                line
                for line in hub.log.read_text().splitlines()
                if any(w in line for w in ("requeued", "ended", "no longer known", "Spawn failed",
                                           "does not answer", "stopped, with exit code"))
            ]  # fmt: skip
            for user in users:
                hub.api("DELETE", f"/users/{user}/server")
            for user in users:
                wait_for(lambda u=user: not hub.server(u), timeout=120, what="stopped")

    med = statistics.median
    r, s = med(running), med(spawn)
    q = statistics.quantiles(many, n=20, method="inclusive") if len(many) > 1 else many * 19
    p50, p95 = med(many), q[18]
    intervals = wall / STARTUP_POLL_S
    target = 1.5 * r + 2
    print(f"bare sbatch → RUNNING (node)     median {r:6.2f} s  {[round(x, 2) for x in running]}")
    print(f"hub spawn across hosts → ready   median {s:6.2f} s  {[round(x, 2) for x in spawn]}")
    print(f"  ratio spawn / bare RUNNING            {s / r:6.2f}")
    print(f"  target 1.5 × RUNNING + 2 s = {target:5.2f} s -> met: {s <= target}")
    print(
        f"{len(users)} users at once: all ready in {wall:.1f} s on {sorted(nodes)}; "
        f"p50 {p50:.2f} s, p95 {p95:.2f} s; p50 / bare RUNNING {p50 / r:.2f}"
    )
    print(
        f"  squeue calls {calls:.0f} in {wall:.1f} s = {calls / intervals:.2f} per startup "
        f"poll interval of {STARTUP_POLL_S} s, for {len(users)} spawners (target ≤ 1: "
        f"one shared call, not one per user)"
    )
    print(
        f"  hub CPU {cpu:.2f} s = {cpu / (wall / POLL_INTERVAL_S):.3f} s per poll interval "
        f"of {POLL_INTERVAL_S} s"
    )
    print(
        f"event-loop lag, node2 cut off {args.fault_s:.0f} s: ≤ {fault_lag:.3f} s; "
        f"after restore ≤ {recovery_lag:.3f} s; slurmctld restart ≤ {controller_lag:.3f} s "
        f"(target ≤ 0.5 s) -> met: {max(fault_lag, recovery_lag, controller_lag) <= 0.5}; "
        f"servers kept through both: {kept}/{len(users)}"
    )
    for line in lost:
        print("  hub:", line[:300])


if __name__ == "__main__":
    main()
