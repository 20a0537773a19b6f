"""Hub on Slurm: spawn latency against bare sbatch, and squeue calls with 200 jobs — in one run.

    sudo /opt/rarehub/venv/bin/python benchmarks/bench_hub_spawn.py [--repeats 3]

(From a working tree: ``PYTHONPATH=$PWD:$PWD/hub`` so the hub runs this tree's rarehub_hub.)

Starts the same one-node Slurm the tests use (tests/support/slurm.py) and measures:

1. ``sbatch → RUNNING`` for a bare job (the scheduler's own latency);
2. ``sbatch → HTTP answer`` of a bare ``jupyter server`` job on 127.0.0.1 (what any server
   job costs, without the hub);
3. hub spawn, ``POST /users/{name}/server → ready`` through RareHubSlurmSpawner, with its
   phases from the hub log: submitted → the job reports its port (Slurm start + launcher) →
   the server answers HTTP (JupyterLab's start) → ready (the route is added).

Target (issue "Hub"): (3) ≤ 1.5 × (1) + 2 s. The script prints (3) against both baselines.

4. 200 real Slurm jobs named like the hub's servers and 200 simulated spawners polling every
   interval with jitter through :class:`SqueueBatcher`: squeue calls per interval (target 1),
   and the CPU the polling cost, against one ``squeue -j`` per spawner (batchspawner's way).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "support"), str(REPO / "hub")]

import slurm  # noqa: E402
from _timing import bare_job_seconds, parse_args  # noqa: E402
from slurm_hub import running_slurm_hub  # noqa: E402

from rarehub_hub.slurm_squeue import SQUEUE_FORMAT, SqueueBatcher  # noqa: E402
from rarehub_testing import free_port_block, wait_for  # noqa: E402

USER = "rarehub-bench"
#: Exit status when a component is missing (tests/benchmarks: a skip, a failure under CI).
MISSING_COMPONENT = 77
TOKEN = "rarehub-bench-admin-token-0123456789"


def job_files(cluster) -> list[str]:
    """Output and working directory the job's user can write (not this checkout)."""
    return [f"--output={cluster.work_dir}/bench-%j.out", f"--chdir={cluster.work_dir}"]


def bare_server(cluster, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        port = free_port_block(1)
        script = (
            "#!/bin/bash\n"
            f"exec {sys.prefix}/bin/jupyter server --ip=127.0.0.1 --port={port} "
            "--no-browser --IdentityProvider.token=''\n"
        )
        t0 = time.perf_counter()
        job = cluster.sbatch(script, "--mem=1G", "--time=5", *job_files(cluster), user=USER)
        wait_for(
            lambda p=port: requests.get(f"http://127.0.0.1:{p}/api", timeout=1).ok,
            timeout=120,
            what="bare jupyter server",
            every=0.05,
        )
        times.append(time.perf_counter() - t0)
        cluster.scancel(job)
        cluster.wait_state(job, {"GONE", "CANCELLED", "COMPLETED"})
    return times


STAMP = re.compile(r"^\[\w (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) JupyterHub")
#: Hub log lines that mark the phases of a spawn (in this order).
PHASES = {
    "submitted": re.compile(r"Submitting rarehub-jupyter for "),
    "port reported": re.compile(r"POST /hub/api/batchspawner "),
    "server answers": re.compile(r"Server job \d+ of "),
    "ready": re.compile(r"Adding user .* to proxy"),
}


def spawn_phases(log_text: str) -> list[dict[str, float]]:
    """Per spawn, the seconds of each phase from the hub log's timestamps."""
    spawns: list[dict[str, float]] = []
    for line in log_text.splitlines():
        m = STAMP.match(line)
        if not m:
            continue
        t = datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S.%f").timestamp()
        for phase, pattern in PHASES.items():
            if pattern.search(line):
                if phase == "submitted":
                    spawns.append({})
                if spawns:
                    spawns[-1][phase] = t
    out = []
    for s in spawns:
        if len(s) == len(PHASES):
            names = list(PHASES)
            out.append({f"{a} → {b}": s[b] - s[a] for a, b in itertools.pairwise(names)})
    return out


def hub_spawns(cluster, repeats: int, work: Path) -> tuple[list[float], list[dict[str, float]]]:
    site = {
        "job_environment": {"PYTHONPATH": f"{REPO}:{REPO / 'hub'}"},
        "limits": {"partitions": [cluster.partition], "memory_GiB": [1, 2]},
        "profiles": [{"name": "small", "display_name": "small", "memory_GiB": 1}],
    }
    times = []
    with running_slurm_hub(
        cluster,
        work,
        users=[USER],
        password="bench-password",
        admin_token=TOKEN,
        slurm=site,
        admin_scopes=["admin:users", "admin:servers"],
    ) as hub:
        for _ in range(repeats):
            t0 = time.perf_counter()
            r = hub.spawn(USER)
            assert r.status_code in (201, 202), r.text
            wait_for(lambda: hub.server(USER).get("ready"), timeout=120, what="spawn", every=0.05)
            times.append(time.perf_counter() - t0)
            hub.stop_server(USER, timeout=60)
        phases = spawn_phases(hub.log.read_text())
    return times, phases


def polling(cluster, n_jobs: int, interval_s: float, intervals: int) -> dict[str, float]:
    jobs = [
        cluster.sbatch(
            "#!/bin/bash\nsleep 600\n",
            "--job-name=rarehub-jupyter",
            "--mem=1M",
            *job_files(cluster),
        )
        for _ in range(n_jobs)
    ]
    try:
        batcher = SqueueBatcher(
            ("squeue", "-h", "-t", "all", "-n", "rarehub-jupyter", "-o", SQUEUE_FORMAT),
            cluster.env,
        )
        seen: dict[str, str] = {}

        async def spawner(job: str):
            # Each spawner polls every interval, with JupyterHub's default 10 % jitter.
            await asyncio.sleep(random.uniform(0, interval_s))
            end = time.monotonic() + interval_s * intervals
            while time.monotonic() < end:
                snap = await batcher.snapshot(interval_s)
                if snap.jobs is not None and job in snap.jobs:
                    seen[job] = snap.jobs[job].state
                await asyncio.sleep(interval_s * random.uniform(0.9, 1.1))

        cpu0 = time.process_time()
        kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()

        async def all_spawners():
            await asyncio.wait_for(asyncio.gather(*(spawner(j) for j in jobs)), 600)

        asyncio.run(all_spawners())
        wall = time.perf_counter() - t0
        kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        batched_cpu = (time.process_time() - cpu0) + (
            kids1.ru_utime + kids1.ru_stime - kids0.ru_utime - kids0.ru_stime
        )
        assert len(seen) == n_jobs, f"only {len(seen)} of {n_jobs} jobs seen"

        # batchspawner's way: one `squeue -j ID` per spawner per interval.
        kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t1 = time.perf_counter()
        for job in jobs:
            subprocess.run(
                ["squeue", "-h", "-j", job, "-o", "%T %B"], env=cluster.env, capture_output=True
            )
        per_user_wall = time.perf_counter() - t1
        kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        per_user_cpu = kids1.ru_utime + kids1.ru_stime - kids0.ru_utime - kids0.ru_stime
    finally:
        cluster.scancel(*jobs)
    return {
        "squeue_calls": batcher.calls,
        "intervals": wall / interval_s,
        "calls_per_interval": batcher.calls / (wall / interval_s),
        "batched_cpu_s_per_interval": batched_cpu / (wall / interval_s),
        "per_user_calls_per_interval": n_jobs,
        "per_user_cpu_s_per_interval": per_user_cpu,
        "per_user_wall_s_per_interval": per_user_wall,
    }


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop Slurm on the way out
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--interval", type=float, default=2.0, help="poll interval, s")
    args = parse_args(parser, smoke={"repeats": 1, "jobs": 4, "interval": 0.5})
    why = slurm.missing_requirements()
    if why:
        print(f"cannot run: {why}", file=sys.stderr)
        sys.exit(MISSING_COMPONENT)
    slurm.ensure_unix_user(USER)
    with slurm.start_slurm_cluster() as cluster, tempfile.TemporaryDirectory() as tmp:
        running = bare_job_seconds(cluster, args.repeats, *job_files(cluster), user=USER)
        print("bare sbatch → RUNNING:", running, flush=True)
        server = bare_server(cluster, args.repeats)
        print("bare sbatch → server answers:", server, flush=True)
        spawn, phases = hub_spawns(cluster, args.repeats, Path(tmp))
        print("hub spawn → ready:", spawn, flush=True)
        poll = polling(cluster, args.jobs, args.interval, intervals=3)
    med = statistics.median
    r, b, s = med(running), med(server), med(spawn)
    print(f"bare sbatch → RUNNING          median {r:6.2f} s  {[round(x, 2) for x in running]}")
    print(f"bare sbatch → server answers   median {b:6.2f} s  {[round(x, 2) for x in server]}")
    print(f"hub spawn request → ready      median {s:6.2f} s  {[round(x, 2) for x in spawn]}")
    met = "" if args.smoke else f"  -> met: {s <= 1.5 * r + 2}"
    print(f"target 1.5 × RUNNING + 2 s  =         {1.5 * r + 2:6.2f} s{met}")
    print(f"spawn / bare server job       ratio   {s / b:6.2f}")
    print(f"spawn / bare RUNNING          ratio   {s / r:6.2f}")
    for name in phases[0] if phases else ():
        values = [p[name] for p in phases]
        print(f"  {name:34s} median {med(values):5.2f} s  {[round(v, 2) for v in values]}")
    print(
        f"{args.jobs} jobs, {args.jobs} pollers, {poll['intervals']:.1f} intervals of "
        f"{args.interval} s: squeue calls {poll['squeue_calls']} "
        f"= {poll['calls_per_interval']:.2f} per interval (batchspawner: "
        f"{poll['per_user_calls_per_interval']} per interval)"
    )
    print(
        f"CPU per interval: batched {poll['batched_cpu_s_per_interval']:.3f} s; "
        f"one squeue per spawner {poll['per_user_cpu_s_per_interval']:.3f} s "
        f"(wall {poll['per_user_wall_s_per_interval']:.2f} s)"
    )


if __name__ == "__main__":
    main()
