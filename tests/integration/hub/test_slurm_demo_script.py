"""hub/scripts/slurm-demo.sh: one command brings up a one-node Slurm and the hub in Slurm mode.

Runs the script as an admin would (own Slurm on free ports, beside the session's cluster), logs
in as a demo user, spawns a server as a Slurm job, then Ctrl-C stops everything it started.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests
import slurm

from rarehub_testing import REPO, free_port_block, wait_for

SCRIPT = REPO / "hub" / "scripts" / "slurm-demo.sh"
USER = "rarehub-demo-t"


@pytest.fixture
def demo_state():
    path = Path(tempfile.mkdtemp(prefix="rarehub-demo-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def alive(pidfile: Path) -> bool:
    try:
        os.kill(int(pidfile.read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


def test_demo_script_runs_slurm_and_hub_then_stops_everything(demo_state):
    why = slurm.missing_requirements()
    if why:
        pytest.skip(why)
    chp = REPO / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
    if not chp.exists():
        pytest.skip(f"{chp} missing: run ./dev test first")
    # One block for all: the hub's PORT..PORT+2, then slurmctld and slurmd. (Separate picks
    # could hand Slurm PORT+1, freed again after the first pick: the hub then cannot bind.)
    port = free_port_block(5)
    slurm_ports = f"{port + 3} {port + 4}"
    env = dict(
        os.environ,
        RAREHUB_PORT=str(port),
        RAREHUB_SLURM_PORTS=slurm_ports,
        RAREHUB_DEMO_USERS=USER,
        RAREHUB_PASSWORD="demo-password-123",
        RAREHUB_VENV=sys.prefix,
    )
    log = demo_state.parent / f"{demo_state.name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(SCRIPT), str(demo_state)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    slurm_env = dict(os.environ, SLURM_CONF=str(demo_state / "slurm.conf"))
    try:
        wait_for(lambda: requests.get(f"{base}/hub/health", timeout=2).ok, timeout=90, what="hub")
        assert "password: demo-password-123" in log.read_text()
        s = requests.Session()
        s.get(f"{base}/hub/login")
        r = s.post(
            f"{base}/hub/login",
            data={"username": USER, "password": "demo-password-123", "_xsrf": s.cookies["_xsrf"]},
            allow_redirects=False,
        )
        assert r.status_code == 302
        xsrf = s.cookies.get("_xsrf", path="/hub/")
        r = s.post(
            f"{base}/hub/api/users/{USER}/server",
            headers={"X-XSRFToken": xsrf},
            json={"profile": "small"},
        )
        assert r.status_code in (201, 202), r.text

        def ready():
            user = s.get(f"{base}/hub/api/users/{USER}", headers={"X-XSRFToken": xsrf}).json()
            return user["servers"].get("", {}).get("ready")

        wait_for(ready, timeout=90, what="demo server")
        jobs = subprocess.run(
            ["squeue", "-h", "-o", "%u %j %T"], env=slurm_env, capture_output=True, text=True
        ).stdout.split()
        assert jobs == [USER, "rarehub-jupyter", "RUNNING"]
        assert "JupyterLab" in s.get(f"{base}/user/{USER}/lab").text
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the admin's terminal
        rc = proc.wait(timeout=60)
    assert rc in (0, 130), log.read_text()[-3000:]
    for pidfile in ("run/slurmd.pid", "run/slurmctld.pid", "munge/munged.pid"):
        wait_for(lambda p=pidfile: not alive(demo_state / p), timeout=20, what=f"{pidfile} gone")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base}/hub/health", timeout=2)
