"""The README's first command, exactly as written: ``./dev start``.

Starts the platform on a free port with a fresh state folder, logs in over HTTP, spawns
a server, reaches JupyterLab and a running kernel, then stops it with Ctrl-C (SIGINT)
and starts it again to show the state is reused.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import psutil
import pytest
import requests
import websocket

from rarehub_testing import free_port_block, start_dev_hub, wait_for

USER = "demo"


def stop_platform(proc: subprocess.Popen) -> int:
    """Ctrl-C as a user would: SIGINT to the foreground process group."""
    os.killpg(proc.pid, signal.SIGINT)
    return proc.wait(timeout=60)


def login(base: str, password: str) -> tuple[requests.Session, str]:
    s = requests.Session()
    s.get(f"{base}/hub/login").raise_for_status()
    r = s.post(
        f"{base}/hub/login",
        data={"username": USER, "password": password, "_xsrf": s.cookies["_xsrf"]},
        allow_redirects=False,
    )
    assert r.status_code == 302, f"login refused: {r.status_code} {r.text[:300]}"
    return s, s.cookies.get("_xsrf", path="/hub/")


def execute(s: requests.Session, base: str, kernel_id: str, code: str) -> str:
    """Run ``code`` in the kernel over its websocket and return the result's text."""
    url = base.replace("http", "ws", 1) + f"/user/{USER}/api/kernels/{kernel_id}/channels"
    cookies = "; ".join(f"{c.name}={c.value}" for c in s.cookies)
    ws = websocket.create_connection(url, header=[f"Cookie: {cookies}"], timeout=60)
    try:
        msg_id = uuid.uuid4().hex
        ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "username": USER,
                        "session": uuid.uuid4().hex,
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {"code": code, "silent": False},
                    "channel": "shell",
                }
            )
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            msg = json.loads(ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "execute_result":
                return msg["content"]["data"]["text/plain"]
            if msg["msg_type"] == "error":
                raise AssertionError(f"kernel error: {msg['content']}")
        raise TimeoutError("no execute_result within 60 s")
    finally:
        ws.close()


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    state = tmp_path_factory.mktemp("state")
    log = state.parent / "platform.log"
    port = free_port_block(5)  # public, hub API, proxy API, two monitors
    base = f"http://127.0.0.1:{port}"
    info = {"proc": start_dev_hub(state, port, log), "base": base, "state": state}
    info.update(log=log, port=port)
    try:
        wait_for(lambda: requests.get(f"{base}/hub/health", timeout=2).ok, timeout=300, what="hub")
        yield info
    finally:
        if info["proc"].poll() is None:
            stop_platform(info["proc"])


def test_start_login_spawn_lab_kernel(platform):
    base, state, log = platform["base"], platform["state"], platform["log"]
    text = log.read_text()
    password = (state / "demo-password").read_text().strip()
    assert password in text, "the password must be printed for the user"
    assert f"{base}/" in text, "the URL must be printed"
    assert oct((state / "demo-password").stat().st_mode & 0o777) == "0o600"

    s, xsrf = login(base, password)
    r = s.post(f"{base}/hub/api/users/{USER}/server", headers={"X-XSRFToken": xsrf})
    assert r.status_code in (201, 202), r.text

    def ready():
        user = s.get(f"{base}/hub/api/users/{USER}", headers={"X-XSRFToken": xsrf}).json()
        return user["servers"].get("", {}).get("ready")

    wait_for(ready, timeout=120, what="single-user server")
    r = s.get(f"{base}/user/{USER}/lab")
    assert r.status_code == 200
    assert r.url == f"{base}/user/{USER}/lab"
    assert "JupyterLab" in r.text

    lab_xsrf = s.cookies.get("_xsrf", path=f"/user/{USER}/")
    r = s.post(
        f"{base}/user/{USER}/api/kernels",
        headers={"X-XSRFToken": lab_xsrf},
        json={"name": "python3"},
    )
    assert r.status_code == 201, r.text
    kid = r.json()["id"]

    assert execute(s, base, kid, "6 * 7") == "42"

    # The tutorials and the demo data were delivered into the user's home.
    home = state / "home" / USER
    assert (home / "tutorials" / "00-welcome.ipynb").is_file()
    assert (home / "data" / "coherent" / "csi_events.parquet").is_file()
    r = s.get(f"{base}/user/{USER}/api/contents/tutorials")
    assert "00-welcome.ipynb" in {c["name"] for c in r.json()["content"]}


def test_wrong_password_is_refused(platform):
    s = requests.Session()
    s.get(f"{platform['base']}/hub/login")
    r = s.post(
        f"{platform['base']}/hub/login",
        data={"username": USER, "password": "not-the-password", "_xsrf": s.cookies["_xsrf"]},
        allow_redirects=False,
    )
    assert r.status_code == 403


def test_ctrl_c_stops_everything_and_restart_reuses_state(platform):
    proc, state, port = platform["proc"], platform["state"], platform["port"]
    password = (state / "demo-password").read_text().strip()
    t0 = time.monotonic()
    assert stop_platform(proc) == 0
    assert time.monotonic() - t0 < 30, "Ctrl-C must stop the platform promptly"

    def leftovers() -> str:
        return subprocess.run(
            ["pgrep", "-a", "-f", f"(configurable-http-proxy|jupyterhub).*{port}|{state}"],
            capture_output=True,
            text=True,
        ).stdout.strip()

    # A user's kernel exits a moment after its server (it is asked to shut down, or notices
    # its parent is gone); nothing may still run a few seconds later.
    try:
        wait_for(lambda: not leftovers(), timeout=10, what="every process of the platform to end")
    except TimeoutError:
        pytest.fail(f"processes left running after Ctrl-C:\n{leftovers()}")

    db = state / "jupyterhub.sqlite"
    assert db.exists()
    proc2 = start_dev_hub(state, port, platform["log"])
    platform["proc"] = proc2
    base = platform["base"]
    wait_for(lambda: requests.get(f"{base}/hub/health", timeout=2).ok, timeout=120, what="hub")
    assert (state / "demo-password").read_text().strip() == password
    second_start = platform["log"].read_text().split("RareHub is starting")[-1]
    assert not re.search("generating demo data", second_start)
    s, _ = login(base, password)
    assert s.get(f"{base}/hub/home").status_code == 200


def ignored_signals(pid: int) -> int:
    """The mask of signals process ``pid`` ignores (``SigIgn`` in /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^SigIgn:\s*([0-9a-f]+)$", status, re.M).group(1), 16)


def test_a_hub_started_in_the_background_stops_its_services_promptly(tmp_path):
    """``./dev start &`` (or nohup, or a CI runner) starts the hub with SIGINT ignored; its
    services must not inherit that, or each one holds the shutdown up for JupyterHub's 10 s
    SIGINT grace (and outlives a hub that gets killed meanwhile)."""
    port = free_port_block(5)
    state = tmp_path / "state"
    proc = start_dev_hub(state, port, tmp_path / "hub.log", background=True)
    try:
        wait_for(
            lambda: requests.get(f"http://127.0.0.1:{port}/hub/health", timeout=2).ok,
            timeout=300,
            what="hub",
        )
        assert ignored_signals(proc.pid) & (1 << (signal.SIGINT - 1)) == 0  # the hub's own
        hub = psutil.Process(proc.pid)

        def services():
            found = [
                p
                for p in hub.children()
                if "jupyterhub_idle_culler" in p.cmdline() or "monitor" in p.cmdline()
            ]
            return found if len(found) == 3 else None

        children = wait_for(services, timeout=60, what="the culler and two monitors")
        for child in children:
            mask = ignored_signals(child.pid)
            assert mask & (1 << (signal.SIGINT - 1)) == 0, f"{child.cmdline()} ignores SIGINT"
        t0 = time.monotonic()
        assert stop_platform(proc) == 0
        assert time.monotonic() - t0 < 30, "the hub must stop its services promptly"
        assert not [c for c in children if c.is_running()], "a service outlived the hub"
    finally:
        if proc.poll() is None:  # the test failed: leave nothing running
            for child in psutil.Process(proc.pid).children(recursive=True):
                child.kill()
            os.killpg(proc.pid, signal.SIGKILL)
