"""The single-user server in the image, spawned by a real JupyterHub.

A JupyterHub (from the test environment) and its configurable-http-proxy run on 127.0.0.1;
its spawner's command is ``podman run … IMAGE jupyterhub-singleuser``, locked down like
every image test, with the hub's ``JUPYTERHUB_*`` variables passed through. The test
starts a server through the hub's REST API and reaches the server's ``/api/status``
through the proxy, as a browser would. (The Slurm path, batchspawner-singleuser in the
image, belongs to the hub's tests: they reuse the ``rarehub_image`` fixture.)
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from rarehub_image import CONTAINERS_CONF, locked_down, podman

from rarehub_testing import REPO, free_port_block, require_executable, wait_for

USER = "alice"
# The one warning we accept, and why: JupyterHub 6's single-user extension itself appends
# its templates to NotebookApp.extra_template_paths (jupyterhub/singleuser/extension.py),
# and JupyterLab's compatibility check then warns that the trait is set on NotebookApp.
# Nothing in the image's configuration causes or can prevent it.
KNOWN_SINGLEUSER_WARNING = re.compile(
    r"\[W .* LabApp\] 'extra_template_paths' was found in both NotebookApp and ServerApp"
)
HUB_CONFIG = """
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {port} + 1
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.JupyterHub.db_url = "sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{state}/cookie_secret"
c.JupyterHub.authenticator_class = "null"
c.JupyterHub.spawner_class = "simple"
c.Spawner.ip = "127.0.0.1"
c.Spawner.start_timeout = 120
c.Spawner.cmd = {cmd!r}
# The spawner passes only a few variables on: podman needs its settings (runc, cgroupfs).
c.Spawner.environment = {{"CONTAINERS_CONF": {containers_conf!r}}}
c.Spawner.default_url = "/lab"
c.JupyterHub.load_roles = [
    {{"name": "tester", "scopes": ["admin:users", "admin:servers", "access:servers"],
      "services": ["tester"]}},
]
c.JupyterHub.services = [{{"name": "tester", "api_token": {token!r}}}]
"""


@pytest.fixture
def hub(rarehub_image, tmp_path):
    proxy = REPO / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
    if not proxy.exists():
        require_executable("configurable-http-proxy", "JupyterHub needs its proxy")
        proxy = Path(require_executable("configurable-http-proxy", "proxy"))
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o777)
    port = free_port_block(3)
    token = secrets.token_hex(16)
    container = f"rarehub-singleuser-test-{port}"
    cmd = [
        "podman",
        "run",
        "--rm",
        f"--name={container}",
        *locked_down(home),
        "--env=JUPYTERHUB_*",  # the hub's variables for the server, from podman's env
        "--env=JPY_*",
        rarehub_image,
        "jupyterhub-singleuser",
    ]
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(
        HUB_CONFIG.format(
            port=port,
            proxy_api_port=port + 2,
            proxy=str(proxy),
            state=tmp_path,
            cmd=cmd,
            token=token,
            containers_conf=os.environ.get("CONTAINERS_CONF", str(CONTAINERS_CONF)),
        )
    )
    log = tmp_path / "hub.log"
    env = dict(os.environ)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(config)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(f"{base}/hub/api", timeout=5).ok, timeout=60, what="hub")
        yield base, token, log
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        podman("rm", "--force", "--time=0", container, check=False)


def test_hub_spawns_the_single_user_server_in_the_image(hub):
    base, token, log = hub
    headers = {"Authorization": f"token {token}"}
    requests.post(f"{base}/hub/api/users/{USER}", headers=headers, timeout=30).raise_for_status()
    started = requests.post(f"{base}/hub/api/users/{USER}/server", headers=headers, timeout=60)
    assert started.status_code in (201, 202), started.text

    def ready():
        user = requests.get(f"{base}/hub/api/users/{USER}", headers=headers, timeout=10).json()
        server = user["servers"].get("", {})
        return server.get("ready")

    wait_for(ready, timeout=180, what="the single-user server in the image")
    status = requests.get(f"{base}/user/{USER}/api/status", headers=headers, timeout=30)
    assert status.status_code == 200, status.text
    assert "started" in status.json()

    # The single-user server's start-up log (in the hub's output) is free of warnings.
    server_lines = [
        line
        for line in log.read_text(errors="replace").splitlines()
        if re.search(r"ServerApp|SingleUser|LabApp|IPKernelApp", line)
    ]
    assert any(
        "jupyterhub-singleuser" in line.lower() or "Jupyter Server" in line for line in server_lines
    ), server_lines
    bad = [
        line
        for line in server_lines
        if re.match(r"\[[WEC] ", line) and not KNOWN_SINGLEUSER_WARNING.search(line)
    ]
    assert bad == [], "\n".join(bad)

    stopped = requests.delete(f"{base}/hub/api/users/{USER}/server", headers=headers, timeout=60)
    assert stopped.status_code in (202, 204)
