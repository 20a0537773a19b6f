"""JupyterLab in the image, locked down (arbitrary UID, read-only root, bound HOME).

One server per module, on 127.0.0.1 and a free port (host network); its start-up log is
captured as soon as it answers, before any test adds requests to it.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import websocket
from rarehub_image import CONTAINER_HOME, locked_down, podman

from rarehub_testing import free_port_block, wait_for

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Lab:
    name: str
    url: str
    token: str
    home: Path
    startup_log: str

    def get(self, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {self.token}"}
        return requests.get(self.url + path, headers=headers, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def lab(rarehub_image, tmp_path_factory):
    home = tmp_path_factory.mktemp("lab-home")
    home.chmod(0o777)
    port = free_port_block(1)
    token = secrets.token_hex(16)
    name = f"rarehub-lab-test-{port}-{secrets.token_hex(3)}"
    podman(
        "run",
        "--detach",
        f"--name={name}",
        *locked_down(home, healthcheck=True),
        rarehub_image,
        "jupyter",
        "lab",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
    )
    try:
        url = f"http://127.0.0.1:{port}"

        def ready():
            status = podman("inspect", "--format={{.State.Status}}", name).stdout.strip()
            if status != "running":
                raise AssertionError(f"the lab exited:\n{podman('logs', name).stderr}")
            return requests.get(f"{url}/api/status?token={token}", timeout=5).ok

        wait_for(ready, timeout=120, what="JupyterLab in the image")
        logs = podman("logs", name)
        yield Lab(name, url, token, home, startup_log=logs.stdout + logs.stderr)
    finally:
        podman("rm", "--force", "--time=5", name, check=False)


def test_lab_answers_api_status(lab):
    response = lab.get("/api/status")
    assert response.status_code == 200
    assert {"started", "last_activity", "kernels"} <= set(response.json())
    page = lab.get("/lab")
    assert page.status_code == 200
    assert "JupyterLab" in page.text


def test_the_lab_does_not_ask_for_jupyter_news(lab):
    """The announcements plugin ("get notified about official Jupyter news?", fetched from
    the internet) is disabled in the page config JupyterLab serves: offline hubs never ask."""
    page = lab.get("/lab")
    match = re.search(
        r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page.text, re.S
    )
    assert match, page.text[:2000]
    disabled = json.loads(match[1])["disabledExtensions"]
    assert "@jupyterlab/apputils-extension:announcements" in disabled


def test_startup_log_has_no_warnings_or_errors(lab):
    assert "is running at" in lab.startup_log
    bad = [
        line
        for line in lab.startup_log.splitlines()
        if re.match(r"\[[WEC] ", line) or re.search(r"Traceback|WARNING|ERROR", line)
    ]
    assert bad == [], "\n".join(bad)


def execute(lab: Lab, kernel: str, code: str) -> str:
    """Run ``code`` in a kernel of the lab over its websocket; return what it printed."""
    ws = websocket.create_connection(
        f"{lab.url.replace('http', 'ws', 1)}/api/kernels/{kernel}/channels?token={lab.token}",
        timeout=60,
    )
    try:
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": "execute_request", "version": "5.3"}
        header |= {"session": uuid.uuid4().hex, "username": "test", "date": ""}
        content = {"code": code, "silent": False, "store_history": False}
        content |= {"user_expressions": {}, "allow_stdin": False, "stop_on_error": True}
        ws.send(
            json.dumps(
                {
                    "header": header,
                    "parent_header": {},
                    "metadata": {},
                    "content": content,
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        printed = []
        while True:
            msg = json.loads(ws.recv())
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                raise AssertionError("\n".join(msg["content"]["traceback"]))
            elif msg["msg_type"] == "execute_reply":
                assert msg["content"]["status"] == "ok"
                return "".join(printed)
    finally:
        ws.close()


def test_a_kernel_runs_code_from_the_lab(lab):
    headers = {"Authorization": f"token {lab.token}"}
    created = requests.post(f"{lab.url}/api/kernels", headers=headers, json={}, timeout=60)
    assert created.status_code == 201, created.text
    kernel = created.json()["id"]
    try:
        code = "import analysis_lib, holoviews, os; print(analysis_lib.__name__, os.getuid())"
        assert execute(lab, kernel, code) == "analysis_lib 54321\n"
    finally:
        requests.delete(f"{lab.url}/api/kernels/{kernel}", headers=headers, timeout=30)


def test_writes_go_to_the_bound_home(lab):
    # The server's runtime files land in the bound HOME, owned by the arbitrary UID.
    runtime = podman(
        "exec", lab.name, "bash", "-c", 'stat -c "%u %n" "$HOME"/.local/share/jupyter/runtime/*'
    ).stdout.split("\n")
    assert any("jpserver-" in line for line in runtime), runtime
    assert all(line.startswith("54321 ") for line in runtime if line)
    assert podman("exec", lab.name, "printenv", "HOME").stdout.strip() == CONTAINER_HOME
    refused = podman("exec", lab.name, "touch", "/opt/rarehub/x", check=False)
    assert refused.returncode != 0
    assert "Read-only file system" in refused.stderr


def test_server_proxy_reaches_an_app_in_the_container(lab):
    # jupyter-server-proxy is how Panel apps and the Dask dashboard reach the browser.
    port = free_port_block(1)
    podman(
        "exec",
        "--detach",
        lab.name,
        "python",
        "-m",
        "http.server",
        str(port),
        "--bind=127.0.0.1",
        "--directory=/opt/rarehub/venv/share/rarehub",
    )
    probe = f"import urllib.request as u; u.urlopen('http://127.0.0.1:{port}/', timeout=2)"
    wait_for(
        lambda: podman("exec", lab.name, "python", "-c", probe, check=False).returncode == 0,
        timeout=30,
        what="a web app inside the container",
    )
    response = lab.get(f"/proxy/{port}/")
    assert response.status_code == 200
    assert "tutorials/" in response.text


def test_lab_extensions_for_holoviews_panel_bokeh(lab):
    out = podman("exec", lab.name, "jupyter", "labextension", "list")
    listing = ANSI.sub("", out.stdout + out.stderr)
    for extension in (
        "@bokeh/jupyter_bokeh",
        "@pyviz/jupyterlab_pyviz",
        "@jupyterhub/jupyter-server-proxy",
        "@jupyter-widgets/jupyterlab-manager",
    ):
        assert re.search(rf"{re.escape(extension)} v\S+ enabled OK", listing), listing


def test_healthcheck_tells_a_serving_lab_from_none(lab, rarehub_image, tmp_path):
    result = podman("healthcheck", "run", lab.name, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    # A container of the image that serves nothing is unhealthy.
    idle = f"{lab.name}-idle"
    podman(
        "run",
        "--detach",
        f"--name={idle}",
        *locked_down(tmp_path, healthcheck=True),
        rarehub_image,
        "sleep",
        "120",
    )
    try:
        result = podman("healthcheck", "run", idle, check=False)
        assert result.returncode != 0
        assert "unhealthy" in result.stdout + result.stderr
    finally:
        podman("rm", "--force", "--time=0", idle, check=False)
