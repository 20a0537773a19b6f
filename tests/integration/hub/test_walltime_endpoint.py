"""The walltime endpoint and the lab extension on a real JupyterLab server (no Slurm needed).

Two ``jupyter lab`` servers on 127.0.0.1, set up as ``rarehub_hub.singleuser`` sets up a Slurm
job's server (:func:`~rarehub_hub.singleuser.enable_walltime_warning`): one with a job's
variables, one with a malformed end time. ``SLURM_CONF`` points nowhere, so ``squeue`` fails
and the endpoint falls back to the job script's ``RAREHUB_JOB_END`` (the squeue path runs in
tests/browser/test_walltime_warning.py on the real cluster).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from slurm_hub import stop_session

from rarehub_hub.singleuser import enable_walltime_warning
from rarehub_testing import free_port_block, wait_for

TOKEN = "walltime-endpoint-test-token"


@contextlib.contextmanager
def lab_server(tmp: Path, job_env: dict[str, str]):
    port = free_port_block(1)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "RAREHUB_"))}
    env.update(job_env, SLURM_CONF="/nonexistent/slurm.conf", HOME=str(tmp))
    enable_walltime_warning(env)
    log = tmp / "lab.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(Path(sys.prefix) / "bin" / "jupyter-lab"),
                "--no-browser",
                "--ip=127.0.0.1",
                f"--port={port}",
                f"--IdentityProvider.token={TOKEN}",
                f"--ServerApp.root_dir={tmp}",
                *(["--allow-root"] if os.geteuid() == 0 else []),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:

        def up():
            if proc.poll() is not None:
                return "exited"
            return requests.get(f"{base}/api", timeout=2).ok

        assert wait_for(up, timeout=90, what="jupyter lab") is True, log.read_text()[-3000:]
        yield base, log
    finally:
        stop_session(proc, timeout=20)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    end = int(time.time()) + 300
    good = {
        "SLURM_JOB_ID": "77",
        "RAREHUB_JOB_END": str(end),
        "RAREHUB_WALLTIME_WARN_MINUTES": "4,1",
    }
    bad = {"SLURM_JOB_ID": "78", "RAREHUB_JOB_END": "soon"}
    with (
        lab_server(tmp_path_factory.mktemp("lab-job"), good) as job,
        lab_server(tmp_path_factory.mktemp("lab-bad"), bad) as broken,
    ):
        yield {"job": job, "broken": broken, "end": end}


def auth() -> dict[str, str]:
    return {"Authorization": f"token {TOKEN}"}


def test_endpoint_answers_the_job_remaining_time(servers):
    base, _ = servers["job"]
    before = time.time()
    r = requests.get(f"{base}/rarehub/walltime", headers=auth(), timeout=10)
    after = time.time()
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["job_id"] == "77"
    assert info["warn_minutes"] == [4.0, 1.0]
    assert info["source"] == "environment"  # squeue cannot reach a cluster here
    assert info["end_epoch_s"] == servers["end"]
    assert servers["end"] - after - 0.1 <= info["remaining_s"] <= servers["end"] - before + 0.1
    assert r.headers["Cache-Control"] == "no-store"


def test_endpoint_needs_a_login(servers):
    base, _ = servers["job"]
    r = requests.get(f"{base}/rarehub/walltime", timeout=10)
    assert r.status_code == 403


def test_malformed_end_time_is_a_clear_error(servers):
    base, log = servers["broken"]
    r = requests.get(f"{base}/rarehub/walltime", headers=auth(), timeout=10)
    assert r.status_code == 500
    message = r.json()["message"]
    assert "RAREHUB_JOB_END='soon'" in message
    assert "seconds since the epoch" in message
    assert "RAREHUB_JOB_END='soon'" in log.read_text()


def test_lab_page_loads_the_warning_extension(servers):
    base, _ = servers["job"]
    page = requests.get(f"{base}/lab", headers=auth(), timeout=30)
    assert page.status_code == 200
    config = json.loads(
        re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', page.text, re.S)[1]
    )
    (ext,) = [e for e in config["federated_extensions"] if e["name"] == "rarehub-walltime-warning"]
    js = requests.get(
        f"{base}/lab/extensions/rarehub-walltime-warning/{ext['load']}", headers=auth(), timeout=10
    )
    assert js.status_code == 200
    assert "_JUPYTERLAB[NAME] = container" in js.text
