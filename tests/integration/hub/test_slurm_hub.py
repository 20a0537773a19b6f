"""The hub in Slurm mode on the real one-node Slurm: spawn as real unix users over the REST API.

One hub (``rarehub-hub start --config site.yaml``, configurable-http-proxy, SQLite) for the
module; servers are Slurm jobs running ``jupyterhub-singleuser`` from the shared, world-readable
environment (runtime ``none``) as the users ``rarehub-t1`` … ``rarehub-t4``.
"""

from __future__ import annotations

import json
import pwd
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import slurm
from slurm_hub import running_slurm_hub, site_limits

from rarehub_testing import CHROMIUM_ARGS, REPO, require_executable, wait_for

PASSWORD = "slurm-test-password"
USERS = ["rarehub-t1", "rarehub-t2", "rarehub-t3", "rarehub-t4"]
ADMIN_TOKEN = "rarehub-test-admin-token-0123456789abcdef"
PORT_RANGE = (23000, 23999)
#: How long slurmctld stays down in the outage test (the issue: ~60 s).
OUTAGE_S = 60


@pytest.fixture(scope="module")
def hub(slurm_cluster, tmp_path_factory):
    for user in USERS:
        slurm.ensure_unix_user(user)
    slurm_site = {
        # Jobs import rarehub_hub from this checkout (sudo drops PYTHONPATH).
        "job_environment": {"PYTHONPATH": f"{REPO}:{REPO / 'hub'}"},
        "port_range": list(PORT_RANGE),
        "squeue_interval_s": 2,
        "poll_interval_s": 3,
        "start_timeout_s": 120,
        # Down to 2 min: the walltime-warning test lets its job run out.
        "limits": site_limits(slurm_cluster, walltime_minutes=(2, 120)),
        "profiles": [
            {"name": "small", "display_name": "1 CPU, 1 GiB", "cpus": 1, "memory_GiB": 1},
            {
                "name": "gpu",
                "display_name": "GPU group only",
                "groups": ["rarehub-no-such-group"],
            },
        ],
    }
    state = tmp_path_factory.mktemp("slurm-hub")
    prometheus_as_documented(state / "state" / "jupyterhub_config.d", state / "prometheus-token")
    with running_slurm_hub(
        slurm_cluster,
        state,
        users=USERS,
        password=PASSWORD,
        admin_token=ADMIN_TOKEN,
        slurm=slurm_site,
    ) as h:
        yield h


PROMETHEUS_TOKEN = "rarehub-test-prometheus-token-fedcba9876543210"


def prometheus_as_documented(config_d: Path, token_file: Path) -> None:
    """The Prometheus service exactly as deploy/monitoring/README.md tells a site to add it
    (its Python block, the token file's path aside), in the hub's jupyterhub_config.d/."""
    readme = (REPO / "deploy" / "monitoring" / "README.md").read_text()
    block = re.search(r"```python\n(.*?c\.JupyterHub\.load_roles.*?)```", readme, re.S)
    assert block, "deploy/monitoring/README.md no longer shows the Prometheus service"
    code = "\n".join(line.strip() and line[2:] for line in block[1].splitlines())
    assert "/etc/prometheus/rarehub-hub-token" in code
    token_file.write_text(PROMETHEUS_TOKEN + "\n")
    token_file.chmod(0o600)
    config_d.mkdir(parents=True, exist_ok=True)
    (config_d / "60-prometheus.py").write_text(
        code.replace("/etc/prometheus/rarehub-hub-token", str(token_file))
    )


def test_the_documented_prometheus_token_reads_metrics_and_nothing_else(hub):
    """deploy/monitoring/README.md's service and role: its token scrapes /hub/metrics
    (JupyterHub's series and RareHub's Slurm ones) and may not list users or servers."""
    token = {"Authorization": f"token {PROMETHEUS_TOKEN}"}
    r = requests.get(f"{hub.base}/hub/metrics", headers=token, timeout=30)
    assert r.status_code == 200, r.text
    assert re.search(r"^jupyterhub_running_servers ", r.text, re.M), r.text[:2000]
    assert re.search(r"^rarehub_slurm_squeue_calls_total ", r.text, re.M)
    for path in ("/hub/api/users", f"/hub/api/users/{USERS[0]}", "/hub/api/services"):
        r = requests.get(f"{hub.base}{path}", headers=token, timeout=30)
        assert r.status_code in (403, 404), (path, r.status_code, r.text)
        assert USERS[0] not in r.text
    r = requests.get(f"{hub.base}/hub/metrics", timeout=30)
    assert r.status_code == 403


def listening(port: int) -> list[str]:
    out = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True, check=True).stdout
    return [line.split()[3] for line in out.splitlines() if line.split()[3].endswith(f":{port}")]


def test_unauthenticated_requests_are_refused(hub):
    user = USERS[0]
    api = [
        ("GET", "/hub/api/users"),
        ("GET", f"/hub/api/users/{user}"),
        ("POST", f"/hub/api/users/{user}/server"),
        ("DELETE", f"/hub/api/users/{user}/server"),
        ("GET", f"/hub/api/users/{user}/server/progress"),
        ("GET", "/hub/api/batchspawner"),
        ("POST", "/hub/api/batchspawner"),
        ("GET", "/hub/metrics"),
    ]
    for method, path in api:
        r = requests.request(method, hub.base + path, allow_redirects=False, timeout=10)
        assert r.status_code in (401, 403, 405), f"{method} {path}: {r.status_code}"
    pages = ["/hub/home", "/hub/spawn", "/hub/admin", "/hub/token", f"/user/{user}/lab"]
    for path in pages:
        r = requests.get(hub.base + path, timeout=10)  # follows redirects to the end
        assert r.url.startswith(f"{hub.base}/hub/login"), f"{path} ended at {r.url}"
    r = requests.get(hub.base + "/hub/api/users", headers={"Authorization": "token wrong"})
    assert r.status_code == 403


def test_rest_spawn_as_unix_user_on_loopback_then_stop(hub):
    user = USERS[0]
    shutil.rmtree(Path(pwd.getpwnam(user).pw_dir) / "tutorials", ignore_errors=True)
    s, xsrf = hub.login(user)
    r = s.post(
        f"{hub.base}/hub/api/users/{user}/server",
        headers={"X-XSRFToken": xsrf},
        json={"profile": "small", "walltime": "0:30"},
    )
    assert r.status_code in (201, 202), r.text
    hub.wait_ready(user)
    job = hub.job_id(user)
    assert job
    line = hub.cluster.run("squeue", "-h", "-j", job, "-o", "%u %T %C %m %l")
    assert line.split() == [user, "RUNNING", "1", "1G", "30:00"], line

    # The route goes to 127.0.0.1 and a port from the configured range.
    m = re.search(rf"Server job {job} of {user} at ([0-9.]+):([0-9]+)", hub.log.read_text())
    assert m, hub.log.read_text()[-2000:]
    host, port = m[1], int(m[2])
    assert host == "127.0.0.1"
    assert PORT_RANGE[0] <= port <= PORT_RANGE[1]
    assert listening(port) == [f"127.0.0.1:{port}"]

    r = s.get(f"{hub.base}/user/{user}/lab")  # the OAuth dance sets the server's cookie
    assert r.status_code == 200
    assert "JupyterLab" in r.text
    r = s.get(f"{hub.base}/user/{user}/api/status")
    assert r.status_code == 200, r.text

    # The job delivered the tutorials into the user's own home, as the user.
    welcome = Path(pwd.getpwnam(user).pw_dir) / "tutorials" / "00-welcome.ipynb"
    assert welcome.is_file()
    assert welcome.stat().st_uid == pwd.getpwnam(user).pw_uid

    # Queue wait and squeue calls are on the hub's Prometheus endpoint.
    metrics = requests.get(
        f"{hub.base}/hub/metrics", headers={"Authorization": f"token {ADMIN_TOKEN}"}
    ).text
    assert re.search(r"^rarehub_slurm_queue_wait_seconds_count [1-9]", metrics, re.M), metrics
    assert re.search(r"^rarehub_slurm_squeue_calls_total [1-9]", metrics, re.M)

    r = s.delete(f"{hub.base}/hub/api/users/{user}/server", headers={"X-XSRFToken": xsrf})
    assert r.status_code in (202, 204)
    wait_for(lambda: not hub.server(user), timeout=30, what="server stopped")
    hub.cluster.wait_state(job, {"GONE", "CANCELLED", "COMPLETED"}, timeout=30)

    # The last choice is remembered: the form preselects it.
    form = s.get(f"{hub.base}/hub/spawn/{user}").text
    assert 'name="walltime"' in form
    assert 'value="0:30"' in form


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"cpus": "1; touch /tmp/pwned"}, "cpus"),
        ({"partition": "rarehub\n#SBATCH --uid=0"}, "partition"),
        ({"walltime": "$(reboot)"}, "walltime"),
        ({"memory_GiB": 10**30}, "memory_GiB"),
        ({"profile": "gpu"}, "profile"),
        ({"evil": "x"}, "unknown option"),
    ],
)
def test_hostile_options_refused_before_any_job(hub, options, field):
    user = USERS[3]
    before = hub.cluster.run("squeue", "-h", "-u", user, "-o", "%i").split()
    r = hub.spawn(user, options)
    assert r.status_code == 400, r.text
    assert field in r.json()["message"]
    assert hub.cluster.run("squeue", "-h", "-u", user, "-o", "%i").split() == before == []


def test_named_servers_are_separate_jobs(hub):
    user = USERS[3]
    r = hub.api("POST", f"/users/{user}/servers/analysis", json={"cpus": 1, "walltime": "0:20"})
    assert r.status_code in (201, 202), r.text

    def named():
        servers = hub.api("GET", f"/users/{user}").json()["servers"]
        return servers.get("analysis", {}).get("ready") and servers["analysis"]

    server = wait_for(named, timeout=90, what="named server")
    job = server["state"]["job_id"]
    line = hub.cluster.run("squeue", "-h", "-j", job, "-o", "%u %T %l")
    assert line.split() == [user, "RUNNING", "20:00"]
    assert not hub.server(user), "the default server is not started by a named one"
    r = hub.api("DELETE", f"/users/{user}/servers/analysis")
    assert r.status_code in (202, 204)
    hub.cluster.wait_state(job, {"GONE", "CANCELLED", "COMPLETED"}, timeout=30)


def test_scancel_from_outside_is_noticed(hub):
    user = USERS[1]
    assert hub.spawn(user).status_code in (201, 202)
    hub.wait_ready(user)
    job = hub.job_id(user)
    hub.cluster.scancel(job)
    wait_for(lambda: not hub.server(user), timeout=30, what="hub noticing the scancel")


def test_cancel_a_queued_spawn_shows_reason_then_cancels(hub):
    user = USERS[2]
    cluster = hub.cluster
    blocker = cluster.sbatch(
        "#!/bin/bash\nsleep 600\n", f"--cpus-per-task={cluster.cpus}", "--mem=100M", "--time=20"
    )
    try:
        cluster.wait_state(blocker, {"RUNNING"}, timeout=30)
        assert hub.spawn(user).status_code == 202
        messages = []
        with hub.api("GET", f"/users/{user}/server/progress", stream=True, timeout=30) as r:
            for line in r.iter_lines(decode_unicode=True):
                if line.startswith("data:"):
                    messages.append(json.loads(line[5:])["message"])
                    if "pending: Resources" in messages[-1]:
                        break
        job = hub.job_id(user)
        assert cluster.squeue(job) == {job: "PENDING"}
        r = hub.api("DELETE", f"/users/{user}/server")
        assert r.status_code in (202, 204), r.text
        wait_for(lambda: not hub.server(user), timeout=30, what="pending spawn cancelled")
        assert cluster.wait_state(job, {"GONE", "CANCELLED"}, timeout=30)
    finally:
        cluster.scancel(blocker)


@pytest.fixture
def browser_page(tmp_path):
    """Headless Debian Chromium (never ``playwright install``); only 127.0.0.1 is reachable."""
    chromium = require_executable("chromium", "the hub's browser tests drive Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        context.set_default_timeout(90_000)
        page = context.new_page()

        def only_loopback(route):
            if route.request.url.startswith(("http://127.0.0.1:", "ws://127.0.0.1:")):
                route.continue_()
            else:
                route.abort()

        page.route("**/*", only_loopback)
        try:
            yield page
        finally:
            context.close()


def browser_login(page, hub, user: str) -> None:
    page.goto(f"{hub.base}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(f"{hub.base}/hub/spawn**")


def test_browser_login_form_pending_page_then_jupyterlab(hub, browser_page):
    user, page = USERS[1], browser_page
    browser_login(page, hub, user)
    page.select_option("#rh-profile", "small")
    page.click("summary")  # "Adjust resources"
    page.fill("#rh-walltime", "0:45")
    page.click("form input[type=submit], form button[type=submit]")
    page.wait_for_url(f"{hub.base}/user/{user}/lab**", timeout=120_000)
    page.wait_for_selector("#jp-main-dock-panel", timeout=120_000)  # JupyterLab's main area
    job = hub.job_id(user)
    line = hub.cluster.run("squeue", "-h", "-j", job, "-o", "%u %T %l")
    assert line.split() == [user, "RUNNING", "45:00"]
    hub.api("DELETE", f"/users/{user}/server")
    wait_for(lambda: not hub.server(user), timeout=30, what="server stopped")


def test_browser_cancel_on_the_pending_page(hub, browser_page):
    user, page, cluster = USERS[2], browser_page, hub.cluster
    blocker = cluster.sbatch(
        "#!/bin/bash\nsleep 600\n", f"--cpus-per-task={cluster.cpus}", "--mem=100M", "--time=20"
    )
    try:
        cluster.wait_state(blocker, {"RUNNING"}, timeout=30)
        browser_login(page, hub, user)
        page.click("form input[type=submit], form button[type=submit]")
        page.wait_for_url(f"{hub.base}/hub/spawn-pending/{user}**")
        # Slurm's reason is on the page, then the user cancels the queued job.
        page.wait_for_function(
            "document.querySelector('#progress-message').textContent.includes('Resources')"
        )
        job = hub.job_id(user)
        assert cluster.squeue(job) == {job: "PENDING"}
        page.click("#stop-server-btn")
        wait_for(lambda: not hub.server(user), timeout=30, what="cancelled from the page")
        cluster.wait_state(job, {"GONE", "CANCELLED"}, timeout=30)
    finally:
        cluster.scancel(blocker)


def test_slurmctld_outage_drops_no_server(hub):
    """squeue failing for several poll intervals is "unknown", not "job gone"."""
    user, cluster = USERS[1], hub.cluster
    assert hub.spawn(user).status_code in (201, 202)
    hub.wait_ready(user)
    job = hub.job_id(user)
    s, _ = hub.login(user)
    assert s.get(f"{hub.base}/user/{user}/lab").status_code == 200
    warnings_before = hub.log.read_text().count(f"Cannot check job {job}")
    slurm.stop_daemon(cluster, "slurmctld")
    try:
        with pytest.raises(RuntimeError):
            cluster.squeue()
        # A minute without a controller (the outage; 20 poll intervals of 3 s, two
        # squeue timeouts' worth): the hub keeps the server and the user keeps working.
        deadline = time.monotonic() + OUTAGE_S
        while time.monotonic() < deadline:
            assert hub.server(user).get("ready"), "server dropped while Slurm was down"
            assert s.get(f"{hub.base}/user/{user}/api/status").status_code == 200
            time.sleep(2)
        assert hub.log.read_text().count(f"Cannot check job {job}") > warnings_before
    finally:
        slurm.start_daemon(cluster, "slurmctld")
        wait_for(lambda: cluster.squeue() is not None, timeout=60, what="slurmctld back")
    assert cluster.squeue(job) == {job: "RUNNING"}
    time.sleep(4)  # a poll with a working squeue again
    assert hub.server(user).get("ready")
    hub.api("DELETE", f"/users/{user}/server")
    wait_for(lambda: not hub.server(user), timeout=30, what="server stopped")


def test_hub_restart_cancels_a_spawn_left_pending(hub):
    user, cluster = USERS[2], hub.cluster
    blocker = cluster.sbatch(
        "#!/bin/bash\nsleep 600\n", f"--cpus-per-task={cluster.cpus}", "--mem=100M", "--time=20"
    )
    try:
        cluster.wait_state(blocker, {"RUNNING"}, timeout=30)
        assert hub.spawn(user).status_code == 202
        job = wait_for(lambda: hub.job_id(user), timeout=30, what="job submitted")
        assert cluster.squeue(job) == {job: "PENDING"}
        hub.stop()
        assert cluster.squeue(job) == {job: "PENDING"}
        hub.start()
        assert f"cancelled job {job} of {user}" in hub.log.read_text()
        cluster.wait_state(job, {"GONE", "CANCELLED"}, timeout=30)
        assert not hub.server(user)
        assert hub.job_id(user) == ""
    finally:
        cluster.scancel(blocker)


def test_hub_restart_reattaches_running_server(hub):
    user = USERS[0]
    assert hub.spawn(user).status_code in (201, 202)
    hub.wait_ready(user)
    job = hub.job_id(user)
    hub.stop()
    assert hub.cluster.squeue(job) == {job: "RUNNING"}, "the job must outlive the hub"
    # The admin command works with the hub down: the user's server, its job, Slurm's state.
    out = subprocess.run(
        [str(Path(sys.prefix) / "bin" / "rarehub-hub"), "status", "--config", str(hub.config)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    row = next(line.split() for line in out.splitlines() if line.startswith(user))
    assert row[:6] == [user, "(default)", job, "running", "RUNNING", hub.cluster.node], out
    hub.start()
    server = hub.wait_ready(user, timeout=30)
    assert server["state"]["job_id"] == job
    s, _ = hub.login(user)
    r = s.get(f"{hub.base}/user/{user}/lab")
    assert r.status_code == 200
    assert "JupyterLab" in r.text
    r = s.get(f"{hub.base}/user/{user}/api/status")
    assert r.status_code == 200, r.text
    assert hub.cluster.squeue(job) == {job: "RUNNING"}
