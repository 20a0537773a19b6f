"""A RareHub hub in Slurm mode for tests and benchmarks: site YAML, start, REST helpers, stop.

One way to start the hub against the shared one-node Slurm (``slurm_cluster`` fixture,
tests/support/slurm.py)::

    with running_slurm_hub(cluster, state_dir, users=["alice"], password=PW,
                           admin_token=TOKEN, slurm={"runtime": "none", ...}) as hub:
        hub.spawn("alice")
        hub.wait_ready("alice")

The hub is ``rarehub-hub start --config site.yaml`` with configurable-http-proxy from
``hub/node_modules`` and SQLite, on 127.0.0.1. Logins are the users' unix accounts (PAM: a
Slurm site refuses a shared password), their password set to ``password`` with
``chpasswd``; ``auth=`` replaces the site's ``auth:`` section (e.g. LDAP). An admin service
token (``admin_token``, scopes ``admin_scopes``) comes in through the
``jupyterhub_config.d/`` escape hatch. On the
way out every server of ``users`` is deleted, the hub stopped and their jobs cancelled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from rarehub_testing import REPO, free_port_block, wait_for

#: What the tests' admin service may do.
ADMIN_SCOPES = (
    "admin:users",
    "admin:servers",
    "admin:server_state",
    "list:users",
    "read:metrics",
    "access:servers",
)
#: The name Slurm jobs of the hub's servers carry (RareHubSlurmSpawner.job_name).
JOB_NAME = "rarehub-jupyter"


def chp() -> str:
    """configurable-http-proxy from ``hub/node_modules`` (``./dev test`` installs it)."""
    path = REPO / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
    if not path.exists():
        pytest.skip(f"{path} missing: run ./dev test (npm ci --prefix hub) first")
    return str(path)


def site_limits(cluster, walltime_minutes: tuple[int, int] = (10, 120)) -> dict[str, Any]:
    """The site's ``slurm.limits`` for tests: the cluster's partition and CPUs, 1–2 GiB."""
    return {
        "partitions": [cluster.partition],
        "cpus": [1, cluster.cpus],
        "memory_GiB": [1, 2],
        "walltime_minutes": list(walltime_minutes),
    }


def start_hub(
    config: Path, log: Path, launcher: Callable[[list[str]], list[str]] | None = None
) -> subprocess.Popen:
    """``rarehub-hub start --config CONFIG`` in its own session, output appended to ``log``.

    ``launcher`` wraps the command (e.g. to run it on the ``login`` host of
    tests/support/multihost.py)."""
    argv = [str(Path(sys.prefix) / "bin" / "rarehub-hub"), "start", "--config", str(config)]
    with log.open("ab") as out:
        return subprocess.Popen(
            launcher(argv) if launcher else argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_session(proc: subprocess.Popen | None, timeout: float = 30) -> None:
    """SIGTERM the process group of ``proc`` (started with ``start_new_session``: a hub and
    its proxy, a Jupyter server …); SIGKILL after ``timeout`` seconds."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class SlurmHub:
    """A hub in Slurm mode: its base URL, site file, log, cluster and the REST helpers."""

    def __init__(
        self,
        base: str,
        config: Path,
        log: Path,
        cluster,
        admin_token: str,
        password: str,
        launcher: Callable[[list[str]], list[str]] | None = None,
    ):
        self.base, self.config, self.log, self.cluster = base, config, log, cluster
        self.admin_token, self.password = admin_token, password
        self.launcher = launcher
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> None:
        """Start the hub and wait for ``/hub/health``; fail at once (with the log) if it exits."""
        self.proc = start_hub(self.config, self.log, self.launcher)
        proc = self.proc

        def up():  # wait_for retries on exceptions: return "exited" to stop at once
            if proc.poll() is not None:
                return "exited"
            return requests.get(f"{self.base}/hub/health", timeout=2).ok

        assert wait_for(up, timeout=timeout, what="hub") is True, self.log.read_text()[-3000:]

    def stop(self) -> None:
        stop_session(self.proc)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.admin_token}"}

    def api(self, method: str, path: str, **kw) -> requests.Response:
        """A request to ``/hub/api{path}`` with the admin service token."""
        kw.setdefault("timeout", 30)
        return requests.request(method, f"{self.base}/hub/api{path}", headers=self.headers, **kw)

    def login(self, user: str, password: str | None = None) -> tuple[requests.Session, str]:
        """Log ``user`` in with ``password`` (default: the hub's); the session and its hub
        XSRF token."""
        s = requests.Session()
        s.get(f"{self.base}/hub/login").raise_for_status()
        r = s.post(
            f"{self.base}/hub/login",
            data={
                "username": user,
                "password": self.password if password is None else password,
                "_xsrf": s.cookies["_xsrf"],
            },
            allow_redirects=False,
        )
        assert r.status_code == 302, f"login refused: {r.status_code}"
        return s, s.cookies.get("_xsrf", path="/hub/")

    def server(self, user: str, name: str = "") -> dict:
        r = self.api("GET", f"/users/{user}")
        r.raise_for_status()
        return r.json()["servers"].get(name, {})

    def job_id(self, user: str) -> str:
        return self.server(user).get("state", {}).get("job_id", "")

    def spawn(self, user: str, options: Mapping[str, Any] | None = None) -> requests.Response:
        return self.api("POST", f"/users/{user}/server", json=dict(options or {}))

    def wait_ready(self, user: str, timeout: float = 90) -> dict:
        """Wait for ``user``'s default server to be ready; fail at once if the spawn failed."""

        def ready():
            server = self.server(user)
            if not server and "Spawn failed" in self.log.read_text():
                return "failed"  # wait_for retries on exceptions: stop at once
            return server if server.get("ready") else None

        server = wait_for(ready, timeout=timeout, what=f"{user}'s server")
        assert server != "failed", self.log.read_text()[-4000:]
        return server

    def stop_server(self, user: str, timeout: float = 30) -> None:
        """Delete ``user``'s default server and wait until the hub lists none."""
        r = self.api("DELETE", f"/users/{user}/server")
        assert r.status_code in (202, 204), r.text
        wait_for(lambda: not self.server(user), timeout=timeout, what="server stopped")


def set_unix_passwords(users: Sequence[str], password: str) -> None:
    """Give each unix user in ``users`` the password ``password`` (PAM logins)."""
    subprocess.run(
        ["chpasswd"],
        input="".join(f"{u}:{password}\n" for u in users),
        text=True,
        check=True,
        capture_output=True,
    )


def write_site(
    state: Path,
    *,
    cluster,
    users: Sequence[str],
    password: str,
    admin_token: str,
    slurm: Mapping[str, Any],
    admin_scopes: Sequence[str] = ADMIN_SCOPES,
    env_prefix: str = sys.prefix,
    auth: Mapping[str, Any] | None = None,
    hub: Mapping[str, Any] | None = None,
) -> tuple[Path, int]:
    """Write ``state/site.yaml`` (Slurm mode) and the admin-token escape hatch.

    ``slurm`` is the site's ``slurm:`` section; ``environment.SLURM_CONF`` (the cluster's)
    is added. ``hub`` adds to the site's ``hub:`` section (e.g. ``ip``, ``api_ip``).
    Returns the site file and the hub's port (the API is port+1).
    """
    port = free_port_block(3)
    section = dict(slurm)
    section["environment"] = {"SLURM_CONF": str(cluster.conf), **section.get("environment", {})}
    site = {
        "deployment": "slurm",
        "state_dir": str(state / "state"),
        "env_prefix": env_prefix,
        "hub": {"ip": "127.0.0.1", "port": port, "proxy_command": chp(), **(hub or {})},
        "auth": dict(auth) if auth else {"type": "pam", "allowed_users": list(users)},
        "slurm": section,
    }
    if not auth:
        set_unix_passwords(users, password)
    config = state / "site.yaml"
    config.write_text(yaml.safe_dump(site))
    extra = state / "state" / "jupyterhub_config.d"
    extra.mkdir(parents=True, exist_ok=True)
    (extra / "50-test-admin.py").write_text(
        "c.JupyterHub.services.append(\n"
        f"    {{'name': 'test-admin', 'api_token': {admin_token!r}}})\n"
        "c.JupyterHub.load_roles.append(\n"
        f"    {{'name': 'test-admin', 'scopes': {list(admin_scopes)!r},\n"
        "     'services': ['test-admin']})\n"
    )
    return config, port


@contextlib.contextmanager
def running_slurm_hub(
    cluster,
    state: Path,
    *,
    users: Sequence[str],
    password: str,
    admin_token: str,
    slurm: Mapping[str, Any],
    admin_scopes: Sequence[str] = ADMIN_SCOPES,
    auth: Mapping[str, Any] | None = None,
) -> Iterator[SlurmHub]:
    """Start a hub in Slurm mode (see :func:`write_site`); stop it and its jobs at the end."""
    config, port = write_site(
        state,
        cluster=cluster,
        users=users,
        password=password,
        admin_token=admin_token,
        slurm=slurm,
        admin_scopes=admin_scopes,
        auth=auth,
    )
    hub = SlurmHub(
        f"http://127.0.0.1:{port}", config, state / "hub.log", cluster, admin_token, password
    )
    try:
        hub.start()
        yield hub
    finally:
        if hub.proc is not None and hub.proc.poll() is None:
            for user in users:
                with contextlib.suppress(requests.RequestException):
                    hub.api("DELETE", f"/users/{user}/server")
        hub.stop()
        with contextlib.suppress(RuntimeError):
            for user in users:
                jobs = cluster.run("squeue", "-h", "-u", user, "-n", JOB_NAME, "-o", "%i").split()
                cluster.scancel(*jobs)
