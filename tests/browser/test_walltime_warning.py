"""Inside JupyterLab, the user is warned before the server's Slurm job reaches its walltime.

A real Slurm spawn (hub in Slurm mode, runtime ``none``) with a 2-minute walltime and
``walltime_warnings_minutes: [1.5, 0.75]``; headless Chromium logs in and opens the lab. The
warning shows as a JupyterLab notification once 1.5 min are left, and again at 45 s, each
with the time left — checked against the end time Slurm itself reports (``squeue -o %e``).
The lab has ~70 s after the job starts to load before the second threshold (a loaded
machine); the test stops the server after the second warning (~80 s after the spawn).
"""

from __future__ import annotations

import re
import time
from datetime import datetime

import pytest
import requests
import slurm
from slurm_hub import running_slurm_hub, site_limits

from rarehub_testing import REPO

USER = "rarehub-wt1"
PASSWORD = "walltime-warning-password"
ADMIN_TOKEN = "rarehub-walltime-test-admin-token-0123456789"
WARN_MINUTES = [1.5, 0.75]
WARNING = re.compile(r"Slurm job (\d+) ends in (?:(\d+) min )?(\d+) s \(at [^)]*\)")
#: The lab checks every 5 s, and a notification takes a moment to render.
SLACK_S = 12


@pytest.fixture(scope="module")
def hub(slurm_cluster, tmp_path_factory):
    slurm.ensure_unix_user(USER)
    site = {
        "job_environment": {"PYTHONPATH": f"{REPO}:{REPO / 'hub'}"},
        "squeue_interval_s": 2,
        "poll_interval_s": 3,
        "start_timeout_s": 120,
        "limits": site_limits(slurm_cluster, walltime_minutes=(1, 60)),
        "walltime_warnings_minutes": WARN_MINUTES,
    }
    with running_slurm_hub(
        slurm_cluster,
        tmp_path_factory.mktemp("walltime-hub"),
        users=[USER],
        password=PASSWORD,
        admin_token=ADMIN_TOKEN,
        slurm=site,
    ) as h:
        yield h


def slurm_end(cluster, job: str) -> float:
    """The job's end (epoch s) as Slurm reports it (``%e`` is local time)."""
    return datetime.fromisoformat(
        cluster.run("squeue", "-h", "-j", job, "-o", "%e").strip()
    ).timestamp()


def warnings_shown(page) -> list[str]:
    return page.eval_on_selector_all(".jp-toast-message", "nodes => nodes.map(n => n.textContent)")


def remaining_s(text: str) -> int:
    m = WARNING.search(text)
    assert m, text
    return int(m[2] or 0) * 60 + int(m[3])


def test_lab_warns_before_the_walltime_and_again_closer_to_the_end(hub, page):
    r = hub.spawn(USER, {"walltime": "0:02"})
    assert r.status_code in (201, 202), r.text
    hub.wait_ready(USER)
    job = hub.job_id(USER)
    end = slurm_end(hub.cluster, job)
    assert 75 < end - time.time() <= 121  # a 2-minute limit from the job start (%e: whole s)

    # The endpoint, through the hub's proxy: Slurm's own end time, the site's thresholds.
    r = requests.get(f"{hub.base}/user/{USER}/rarehub/walltime", headers=hub.headers, timeout=30)
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["job_id"] == job
    assert info["warn_minutes"] == WARN_MINUTES
    assert info["source"] == "squeue"  # the node's Slurm client answered (SLURM_CONF is set)
    assert abs(info["end_epoch_s"] - end) <= 2, (info, end)

    # Log in, straight on to the lab (not the welcome notebook: no kernel needed here).
    page.goto(f"{hub.base}/hub/login?next=/user/{USER}/lab")
    page.fill("#username_input", USER)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(f"{hub.base}/user/{USER}/lab**")
    page.wait_for_selector("#jp-main-dock-panel", timeout=90_000)

    def wait_for_warnings(count: int) -> tuple[list[str], float]:
        timeout_s = max(end - WARN_MINUTES[count - 1] * 60 - time.time(), 0) + 30
        page.wait_for_function(
            "n => [...document.querySelectorAll('.jp-toast-message')]"
            ".filter(e => e.textContent.includes('Slurm job')).length >= n",
            arg=count,
            timeout=timeout_s * 1000,
        )
        seen_at = time.time()
        shown = [t for t in warnings_shown(page) if "Slurm job" in t]
        return shown, seen_at

    shown, seen_at = wait_for_warnings(1)
    (first,) = shown
    assert f"Slurm job {job} ends in" in first
    left = remaining_s(first)
    # Shown once 1.5 min were left, saying how long is left (the lab counts from the server).
    assert left <= WARN_MINUTES[0] * 60
    assert abs(left - (end - seen_at)) <= SLACK_S, (first, end - seen_at)
    assert left > WARN_MINUTES[1] * 60 - SLACK_S

    shown, seen_at = wait_for_warnings(2)
    assert len(shown) == 2
    second = next(t for t in shown if t != first)
    left = remaining_s(second)
    assert left <= WARN_MINUTES[1] * 60
    assert abs(left - (end - seen_at)) <= SLACK_S, (second, end - seen_at)

    hub.stop_server(USER)
