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

import pwd
import re
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests
import slurm
from rarehub_image import (
    CONTAINERS_CONF,
    IMAGE_TUTORIALS,
    podman,
    rarehub_image,  # noqa: F401  (a session fixture)
)
from slurm_hub import running_slurm_hub, site_limits

from rarehub_testing import REPO, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.image]

USER = "rarehub-pod1"
PASSWORD = "slurm-podman-test-password"
ADMIN_TOKEN = "rarehub-podman-test-admin-token-0123456789"
PORT_RANGE = (24000, 24999)


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

    slurm_site = {
        "runtime": "podman",
        "image": rarehub_image,
        "job_environment": podman_env,
        "port_range": list(PORT_RANGE),
        "squeue_interval_s": 2,
        "poll_interval_s": 3,
        "start_timeout_s": 150,
        "limits": site_limits(slurm_cluster),
    }
    with running_slurm_hub(
        slurm_cluster,
        tmp_path_factory.mktemp("slurm-podman-hub"),
        users=[USER],
        password=PASSWORD,
        admin_token=ADMIN_TOKEN,
        slurm=slurm_site,
    ) as hub:
        yield {"base": hub.base, "log": hub.log, "cluster": slurm_cluster, "load_s": load_s}


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
    # The image's server has the walltime endpoint, and the job's variables reached it
    # through podman (no squeue in the image: the job script's end time).
    r = requests.get(f"{base}/user/{USER}/rarehub/walltime", headers=auth(), timeout=30)
    assert r.status_code == 200, r.text
    info = r.json()
    assert (info["job_id"], info["source"], info["warn_minutes"]) == (job, "environment", [10, 2])
    assert 25 * 60 < info["remaining_s"] <= 30 * 60

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
