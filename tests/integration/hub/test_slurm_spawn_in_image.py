"""A Slurm spawn runs the single-user server inside the RareHub image, with podman.

The hub (Slurm mode, runtime ``podman``, the image of this tree from the ``rarehub_image``
fixture) spawns a server for a real non-root unix user over the REST API. The job runs
``podman run --userns=keep-id --network=host --read-only …`` as that user (rootless podman:
``useradd`` gave the user a /etc/subuid range). Each rootless user has an image store of
their own, so the image is copied into it once (``podman save`` as root → ``podman load`` as
the user, ~30 s; skipped when the user already has this image). A shared read-only additional
image store does not work with ``--userns=keep-id`` here: podman has to chown the root-owned
layers for the user's ID mapping and fails ("error during chown … permission denied").
"""

from __future__ import annotations

import os
import pwd
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests
import slurm
import yaml
from rarehub_image import (
    CONTAINERS_CONF,
    IMAGE_TUTORIALS,
    podman,
    rarehub_image,  # noqa: F401  (a session fixture)
)

from rarehub_testing import REPO, free_port_block, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.image]

USER = "rarehub-pod1"
PASSWORD = "slurm-podman-test-password"
ADMIN_TOKEN = "rarehub-podman-test-admin-token-0123456789"
PORT_RANGE = (24000, 24999)


def chp() -> str:
    path = REPO / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
    if not path.exists():
        pytest.skip(f"{path} missing: run ./dev test (npm ci --prefix hub) first")
    return str(path)


def as_user(user: str, env: dict[str, str], *argv: str, timeout: float = 300):
    """Run ``argv`` as ``user`` (login-like HOME) with ``env`` added; return the result."""
    pairs = [f"{k}={v}" for k, v in env.items()]
    return subprocess.run(
        ["runuser", "-u", user, "--", "env", f"HOME={pwd.getpwnam(user).pw_dir}", *pairs, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
        check=False,
    )


def load_image_for(user: str, image: str, env: dict[str, str], scratch: Path) -> float:
    """Put ``image`` into ``user``'s own (rootless) store unless it is there; return seconds."""
    # The reference names the build context (``tree-<hash>``): present means up to date.
    # (Image IDs differ after save/load, so they cannot be compared.)
    t0 = time.monotonic()
    if as_user(user, env, "podman", "image", "exists", image).returncode == 0:
        return time.monotonic() - t0
    # The store is this test user's alone: drop older trees' images (1.4 GB each) first.
    as_user(user, env, "podman", "rmi", "--all", "--force")
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        Path(tmp).chmod(0o755)
        archive = Path(tmp) / "rarehub.tar"
        podman("save", "--format", "oci-archive", "-o", str(archive), image)
        archive.chmod(0o644)
        r = as_user(user, env, "podman", "load", "-q", "-i", str(archive))
        assert r.returncode == 0, f"podman load as {user}: {r.stderr}"
    have = as_user(user, env, "podman", "image", "exists", image)
    assert have.returncode == 0, f"{image} not in {user}'s store after podman load: {have.stderr}"
    return time.monotonic() - t0


def listener_pid(port: int) -> int:
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.split()[3] == f"127.0.0.1:{port}":
            return int(re.search(r"pid=(\d+)", line)[1])
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}:\n{out}")


def ancestors(pid: int) -> list[str]:
    names = []
    while pid > 1:
        stat = Path(f"/proc/{pid}/stat").read_text()
        names.append(stat[stat.index("(") + 1 : stat.rindex(")")])
        pid = int(stat[stat.rindex(")") + 2 :].split()[1])
    return names


@pytest.fixture(scope="module")
def podman_hub(slurm_cluster, rarehub_image, tmp_path_factory):  # noqa: F811
    proxy = chp()
    slurm.ensure_unix_user(USER)
    # World-readable: the job (as USER) reads it. Overlay, not the rootless vfs fallback.
    storage_conf = slurm_cluster.work_dir / "rarehub-podman-storage.conf"
    storage_conf.write_text('[storage]\ndriver = "overlay"\n')
    storage_conf.chmod(0o644)
    podman_env = {
        "CONTAINERS_CONF": str(CONTAINERS_CONF),
        "CONTAINERS_STORAGE_CONF": str(storage_conf),
    }
    load_s = load_image_for(USER, rarehub_image, podman_env, slurm_cluster.work_dir)

    state = tmp_path_factory.mktemp("slurm-podman-hub")
    port = free_port_block(3)
    site = {
        "deployment": "slurm",
        "state_dir": str(state / "state"),
        "env_prefix": sys.prefix,
        "hub": {"ip": "127.0.0.1", "port": port, "proxy_command": proxy},
        "auth": {"shared_password": PASSWORD, "allowed_users": [USER]},
        "slurm": {
            "runtime": "podman",
            "image": rarehub_image,
            "environment": {"SLURM_CONF": str(slurm_cluster.conf)},
            "job_environment": podman_env,
            "port_range": list(PORT_RANGE),
            "squeue_interval_s": 2,
            "poll_interval_s": 3,
            "start_timeout_s": 150,
            "limits": {
                "partitions": [slurm_cluster.partition],
                "cpus": [1, slurm_cluster.cpus],
                "memory_GiB": [1, 2],
                "walltime_minutes": [10, 120],
            },
        },
    }
    config = state / "site.yaml"
    config.write_text(yaml.safe_dump(site))
    extra = state / "state" / "jupyterhub_config.d"
    extra.mkdir(parents=True)
    (extra / "50-test-admin.py").write_text(
        "c.JupyterHub.services.append(\n"
        f"    {{'name': 'test-admin', 'api_token': {ADMIN_TOKEN!r}}})\n"
        "c.JupyterHub.load_roles.append(\n"
        "    {'name': 'test-admin', 'scopes': ['admin:users', 'admin:servers',\n"
        "     'admin:server_state', 'list:users', 'access:servers'], 'services': ['test-admin']})\n"
    )
    log = state / "hub.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(Path(sys.prefix) / "bin" / "rarehub-hub"), "start", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:

        def up():  # wait_for retries on exceptions: return "exited" to stop at once
            if proc.poll() is not None:
                return "exited"
            return requests.get(f"{base}/hub/health", timeout=2).ok

        assert wait_for(up, timeout=120, what="hub") is True, log.read_text()[-3000:]
        yield {"base": base, "log": log, "cluster": slurm_cluster, "load_s": load_s}
    finally:
        if proc.poll() is None:
            requests.delete(f"{base}/hub/api/users/{USER}/server", headers=auth(), timeout=30)
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        jobs = slurm_cluster.run("squeue", "-h", "-u", USER, "-o", "%i").split()
        slurm_cluster.scancel(*jobs)


def auth() -> dict[str, str]:
    return {"Authorization": f"token {ADMIN_TOKEN}"}


def test_rest_spawn_runs_the_server_inside_the_image_with_podman(podman_hub):
    base, log, cluster = podman_hub["base"], podman_hub["log"], podman_hub["cluster"]
    pw = pwd.getpwnam(USER)
    api = f"{base}/hub/api/users/{USER}"

    t0 = time.monotonic()
    options = {"cpus": 1, "walltime": "0:30"}
    r = requests.post(f"{api}/server", headers=auth(), json=options, timeout=30)
    assert r.status_code in (201, 202), r.text

    def ready():
        server = requests.get(api, headers=auth(), timeout=10).json()["servers"].get("", {})
        if not server and "Spawn failed" in log.read_text():
            return "failed"  # wait_for retries on exceptions: stop at once
        return server if server.get("ready") else None

    server = wait_for(ready, timeout=170, what=f"{USER}'s server in the image")
    assert server != "failed", log.read_text()[-4000:]
    spawn_s = time.monotonic() - t0
    job = server["state"]["job_id"]
    line = cluster.run("squeue", "-h", "-j", job, "-o", "%u %T")
    assert line.split() == [USER, "RUNNING"], line

    m = re.search(rf"Server job {job} of {USER} at ([0-9.]+):([0-9]+)", log.read_text())
    assert m, log.read_text()[-2000:]
    assert m[1] == "127.0.0.1"
    port = int(m[2])
    assert PORT_RANGE[0] <= port <= PORT_RANGE[1]

    # Reachable through the proxy (the admin service token has access:servers).
    r = requests.get(f"{base}/user/{USER}/api/status", headers=auth(), timeout=30)
    assert r.status_code == 200, r.text

    # The process serving the port is the user's, in a container that podman's conmon runs:
    # another root file system and another user namespace, the image's files in it.
    pid = listener_pid(port)
    proc = Path(f"/proc/{pid}")
    assert proc.stat().st_uid == pw.pw_uid  # keep-id: the user's own UID
    assert "conmon" in ancestors(pid), ancestors(pid)
    me = Path("/proc/self")
    for ns in ("ns/user", "ns/mnt"):
        assert (proc / ns).readlink() != (me / ns).readlink(), ns
    root = proc / "root"
    assert (root / IMAGE_TUTORIALS.lstrip("/") / "00-welcome.ipynb").is_file()
    assert not (root / str(REPO).lstrip("/")).exists(), "the checkout is not in the image"

    # The server sees the image's tutorials, copied into the bound home as the user.
    r = requests.get(f"{base}/user/{USER}/api/contents/tutorials", headers=auth(), timeout=30)
    assert r.status_code == 200, r.text
    assert "00-welcome.ipynb" in {c["name"] for c in r.json()["content"]}
    assert (Path(pw.pw_dir) / "tutorials" / "00-welcome.ipynb").stat().st_uid == pw.pw_uid

    r = requests.delete(f"{api}/server", headers=auth(), timeout=30)
    assert r.status_code in (202, 204)
    cluster.wait_state(job, {"GONE", "CANCELLED", "COMPLETED"}, timeout=60)
    # conmon outlives the job's process tree: the job script stops the container itself.
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), timeout=30, what="the container stopped")
    print(f"image load {podman_hub['load_s']:.1f} s, spawn into the image {spawn_s:.1f} s")
