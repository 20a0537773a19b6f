"""The storage and data-quality monitors run as hub services, behind the hub login.

Starts the embedded local hub (``rarehub-hub start-local``) on a state folder whose demo
data is a small sample catalog (marked complete, so no demo generation), then: a request
for ``/services/storage-monitor/`` without login ends at the hub's login page, never at the
app; after logging in through the hub in headless Chromium the app renders.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from slurm_hub import chp

from analysis_lib.apps.sample import make_sample_catalog
from rarehub_testing import CHROMIUM_ARGS, free_port_block, require_executable, wait_for

USER = "alice"
#: Random: the config check refuses placeholder or well-known shared passwords.
PASSWORD = "monitor-" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    proxy = chp()
    state = tmp_path_factory.mktemp("state")
    make_sample_catalog(state / "data", n_runs=3, n_events=30)
    (state / "data" / ".complete").touch()  # start-local then reuses it as the demo data
    port = free_port_block(5)  # public, hub API, proxy API, storage and dq monitors
    log = state.parent / "hub.log"
    env = dict(os.environ, RAREHUB_PASSWORD=PASSWORD)
    env.pop("RAREHUB_SITE_CONFIG", None)
    cmd = [str(Path(sys.prefix) / "bin" / "rarehub-hub"), "start-local"]
    cmd += ["--state-dir", str(state), "--ip", "127.0.0.1", "--port", str(port)]
    cmd += ["--proxy", proxy]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:

        def monitor_answers():
            if proc.poll() is not None:
                raise RuntimeError(f"hub exited: {log.read_text()[-3000:]}")
            r = requests.get(f"{base}/services/storage-monitor/", allow_redirects=False, timeout=5)
            return r.status_code == 302  # the app itself answers (with its login redirect)

        wait_for(monitor_answers, timeout=120, what=f"storage monitor service (log {log})")
        yield {"base": base, "port": port}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the hub stops proxy and services
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.mark.parametrize("service", ["storage-monitor", "dq-monitor"])
def test_without_login_a_monitor_sends_you_to_the_hub_login(hub, service):
    url = f"{hub['base']}/services/{service}/"
    wait_for(
        lambda: requests.get(url, allow_redirects=False, timeout=5).status_code == 302,
        timeout=120,
        what=service,
    )
    first = requests.get(url, allow_redirects=False, timeout=30)
    assert first.headers["Location"].startswith("./login")

    r = requests.get(url, timeout=30)  # follow every redirect, as a browser would
    assert r.status_code == 200
    assert urlparse(r.url).path == "/hub/login"
    assert 'name="password"' in r.text
    assert "bokeh" not in r.text.lower()
    assert all(
        urlparse(h.url).path != f"/services/{service}/" or h.status_code == 302 for h in r.history
    )


def test_metrics_answer_on_loopback_without_login(hub):
    """Prometheus scrapes the storage monitor directly on 127.0.0.1 (port + 3)."""
    r = requests.get(
        f"http://127.0.0.1:{hub['port'] + 3}/services/storage-monitor/metrics", timeout=30
    )
    assert r.status_code == 200
    assert "# TYPE" in r.text


def test_after_hub_login_the_storage_monitor_renders(hub, tmp_path):
    hub = hub["base"]
    chromium = require_executable("chromium", "the monitor is checked in Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # fresh user-data dir
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        context.set_default_timeout(60_000)
        blocked: list[str] = []

        def only_loopback(route):
            if route.request.url.startswith(("http://127.0.0.1:", "ws://127.0.0.1:")):
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        try:
            page = context.new_page()
            page.route("**/*", only_loopback)
            page.goto(f"{hub}/services/storage-monitor/")
            assert urlparse(page.url).path == "/hub/login"
            page.fill("input[name=username]", USER)
            page.fill("input[name=password]", PASSWORD)
            page.click("[type=submit]")
            page.wait_for_url(f"{hub}/services/storage-monitor/**")
            page.locator(".rh-alerts").get_by_text("OK").or_(
                page.locator(".rh-alerts").get_by_text("WARNING")
            ).or_(page.locator(".rh-alerts").get_by_text("CRITICAL")).first.wait_for()
            assert "bokeh" in page.content().lower()

            # The OAuth cookie now lets plain requests of this browser through, too.
            app = f"{hub}/services/storage-monitor/"
            cookies = {c["name"]: c["value"] for c in context.cookies(app)}
            r = requests.get(app, cookies=cookies, allow_redirects=False, timeout=30)
            assert r.status_code == 200
            assert "bokeh" in r.text.lower()
        finally:
            context.close()
    assert blocked == []
