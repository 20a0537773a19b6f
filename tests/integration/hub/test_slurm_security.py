"""Hostile users against the real Slurm-mode hub (issue #14; docs/explanation/security.md).

One hub (``rarehub-hub start``, root, real Slurm on loopback) for the module and two unix
users, who log in through a real LDAP server (Debian ``slapd``, started here on 127.0.0.1).
The attacker holds what a user holds: their own server's token (read here from the server
process's environment, as any kernel of theirs can), a token of their own made with their
login, and files in their own home — including the job's output file and a Jupyter config
that runs in their job before the server starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import threading
import time
from pathlib import Path

import pytest
import requests
import slurm
from ldap_server import running_slapd
from slurm_hub import running_slurm_hub, site_limits

from rarehub_hub.slurm_spawner import RareHubSlurmSpawner
from rarehub_testing import REPO, wait_for

pytestmark = pytest.mark.security

A, B = "rarehub-s1", "rarehub-s2"
PASSWORDS = {A: secrets.token_urlsafe(12), B: secrets.token_urlsafe(12)}
ADMIN_TOKEN = secrets.token_hex(24)
PORT_RANGE = (24000, 24999)


@pytest.fixture(scope="module")
def hub(slurm_cluster, tmp_path_factory):
    for user in (A, B):
        slurm.ensure_unix_user(user)
        config = Path(pwd.getpwnam(user).pw_dir) / ".jupyter"
        with contextlib.suppress(FileNotFoundError):
            (config / "jupyter_server_config.py").unlink()
        for old in Path(pwd.getpwnam(user).pw_dir).glob(".rarehub-jupyter-*.log"):
            old.unlink()  # job ids restart with each test cluster
    site = {
        "job_environment": {"PYTHONPATH": f"{REPO}:{REPO / 'hub'}"},
        "port_range": list(PORT_RANGE),
        "squeue_interval_s": 1,
        "poll_interval_s": 3,
        "start_timeout_s": 60,
        "limits": site_limits(slurm_cluster),
    }
    state = tmp_path_factory.mktemp("security-hub")
    with running_slapd(state / "ldap", PASSWORDS) as ldap:
        auth = {
            "type": "ldap",
            "allowed_users": [A, B],
            "ldap": {
                "server_address": ldap.host,
                "server_port": ldap.port,
                "tls_strategy": "insecure",  # loopback only: the config check says so
                "bind_dn_template": [ldap.bind_dn_template],
            },
        }
        with running_slurm_hub(
            slurm_cluster,
            state,
            users=[A, B],
            password="",
            admin_token=ADMIN_TOKEN,
            slurm=site,
            auth=auth,
        ) as h:
            yield h


def server_token(user: str) -> str:
    """The ``JUPYTERHUB_API_TOKEN`` of ``user``'s running server, from its environment."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if proc.stat().st_uid != pwd.getpwnam(user).pw_uid:
                continue
            env = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for kv in env:
            if kv.startswith(b"JUPYTERHUB_API_TOKEN="):
                return kv.split(b"=", 1)[1].decode()
    raise AssertionError(f"no server process of {user} with a token")


@contextlib.contextmanager
def hub_health(hub):
    """Ask ``/hub/health`` every 0.1 s meanwhile; yields a list of the slowest answers (s)."""
    worst: list[float] = [0.0]
    stop = threading.Event()

    def ask():
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                ok = requests.get(f"{hub.base}/hub/health", timeout=5).ok
            except requests.RequestException:
                ok = False
            took = time.monotonic() - t0
            worst[0] = max(worst[0], took if ok else 99.0)
            stop.wait(0.1)

    t = threading.Thread(target=ask, daemon=True)
    t.start()
    try:
        yield worst
    finally:
        stop.set()
        t.join(10)


@pytest.fixture(scope="module")
def servers(hub):
    """A's and B's servers running: the users' tokens, A's own user token, a file of B's.

    A logs in with their LDAP password and starts their server themselves."""
    b_file = f"b-private-{secrets.token_hex(4)}.txt"
    pw = pwd.getpwnam(B)
    (Path(pw.pw_dir) / b_file).write_text("B's\n")
    os.chown(Path(pw.pw_dir) / b_file, pw.pw_uid, pw.pw_gid)
    s, xsrf = hub.login(A, PASSWORDS[A])
    r = s.post(f"{hub.base}/hub/api/users/{A}/server", headers={"X-XSRFToken": xsrf}, json={})
    assert r.status_code in (201, 202), r.text
    assert hub.spawn(B).status_code in (201, 202)
    for user in (A, B):
        hub.wait_ready(user)
    r = s.post(
        f"{hub.base}/hub/api/users/{A}/tokens",
        headers={"X-XSRFToken": xsrf},
        json={"note": "attacker"},
    )
    assert r.status_code == 201, r.text
    yield {"server": server_token(A), "user": r.json()["token"], "b_file": b_file}
    (Path(pw.pw_dir) / b_file).unlink()


def server_process(user: str) -> tuple[int, dict[str, str]]:
    """The uid and environment of ``user``'s server process (found by JUPYTERHUB_USER)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            raw = (proc / "environ").read_bytes().split(b"\0")
            uid = proc.stat().st_uid
        except OSError:
            continue
        env = dict(kv.decode(errors="replace").split("=", 1) for kv in raw if b"=" in kv)
        if env.get("JUPYTERHUB_USER") == user and "SLURM_JOB_ID" in env:
            return uid, env
    raise AssertionError(f"no server process of {user}")


def test_ldap_login_right_password_runs_the_job_as_that_unix_user(hub, servers):
    uid, env = server_process(A)  # A logged in through LDAP and started it (fixture)
    assert uid == pwd.getpwnam(A).pw_uid
    assert env["SLURM_JOB_ID"] == hub.job_id(A)
    line = hub.cluster.run("squeue", "-h", "-j", hub.job_id(A), "-o", "%u %U")
    assert line.split() == [A, str(pwd.getpwnam(A).pw_uid)]


def test_ldap_login_wrong_password_or_unknown_user_is_refused(hub):
    for user, password in ((A, PASSWORDS[B]), (B, ""), ("rarehub-nobody", PASSWORDS[A])):
        s = requests.Session()
        s.get(f"{hub.base}/hub/login").raise_for_status()
        r = s.post(
            f"{hub.base}/hub/login",
            data={"username": user, "password": password, "_xsrf": s.cookies["_xsrf"]},
            allow_redirects=False,
        )
        assert r.status_code == 403, f"{user}: {r.status_code}"
        assert (
            "jupyterhub-session-id" not in s.cookies
            or not s.get(f"{hub.base}/hub/api/user", timeout=10).ok
        )


def test_user_a_cannot_read_or_change_user_b(hub, servers):
    for kind in ("server", "user"):
        h = {"Authorization": f"token {servers[kind]}"}
        tries = [
            ("GET", f"/hub/api/users/{B}"),
            ("PATCH", f"/hub/api/users/{B}"),
            ("POST", f"/hub/api/users/{B}/server"),
            ("DELETE", f"/hub/api/users/{B}/server"),
            ("GET", f"/hub/api/users/{B}/server/progress"),
            ("GET", f"/hub/api/users/{B}/tokens"),
            ("POST", f"/hub/api/users/{B}/tokens"),
            ("PATCH", f"/hub/api/users/{A}"),  # make oneself admin
            ("GET", "/hub/api/users"),
        ]
        for method, path in tries:
            r = requests.request(
                method, hub.base + path, headers=h, json={"admin": True}, timeout=10
            )
            assert r.status_code in (403, 404), f"{kind} token {method} {path}: {r.status_code}"
        for path in ("api/contents", "api/sessions", "api/kernels", "lab"):
            r = requests.get(
                f"{hub.base}/user/{B}/{path}", headers=h, allow_redirects=False, timeout=10
            )
            assert r.status_code in (302, 403, 404), f"{kind} token on B's /{path}: {r.status_code}"
            assert servers["b_file"] not in r.text
    assert hub.server(B).get("ready")  # B's server untouched
    assert not hub.api("GET", f"/users/{A}").json()["admin"]


def test_no_route_answers_an_anonymous_request_with_data(hub, servers):
    from jupyterhub.apihandlers import default_handlers as api
    from jupyterhub.handlers import default_handlers as pages

    public = {"/hub/health", "/hub/login", "/hub/logo", "/hub/api", "/hub/api/"}
    paths = set()
    for pattern, *_ in [*pages, *api]:
        path = (
            pattern.replace("(?P<user_name>[^/]+)", B)
            .replace("(?P<server_name>[^/]*)", "")
            .replace("(?P<name>[^/]+)", B)
            .replace("([^/]+)", B)
            .replace("([^/]*)", "")
            .replace("(.*)", "x")
            .replace("$", "")
            .replace("?", "")
        )
        paths.add("/hub" + path)
    paths |= {f"/user/{B}/api/contents", f"/user/{B}/lab", "/hub/api/batchspawner"}
    leaks = []
    for path in sorted(paths):
        if path in public or "(" in path:
            continue
        for method in ("GET", "POST", "DELETE"):
            r = requests.request(method, hub.base + path, allow_redirects=False, timeout=10)
            if r.status_code < 300 and (method != "GET" or B in r.text):
                leaks.append(f"{method} {path}: {r.status_code} {r.text[:80]!r}")
    assert not leaks


def hostile(name: str, canary: Path) -> object:
    return {
        "exec_prefix": f"touch {canary}; sudo -E -u {{username}}",
        "batch_cancel_cmd": f"touch {canary}; scancel {{job_id}}",
        "batch_submit_cmd": f"touch {canary}; sbatch --parsable",
        "job_id": "1",
        "output_template": "/etc/shadow",
        "port": PORT_RANGE[0] + 1,
        "reported_ip": "127.0.0.1",
    }.get(name, f"$(touch {canary})")


def test_own_server_token_cannot_set_any_spawner_trait_or_run_commands(hub, servers, tmp_path):
    canary = tmp_path / "canary"
    job = hub.job_id(A)
    before = hub.server(A)
    names = sorted(RareHubSlurmSpawner.class_trait_names())
    assert {"exec_prefix", "job_id", "output_template", "limits", "binds"} <= set(names)
    url = f"{hub.base}/hub/api/batchspawner"
    for kind in ("server", "user"):
        h = {"Authorization": f"token {servers[kind]}"}
        for name in names:
            r = requests.post(url, json={name: hostile(name, canary)}, headers=h, timeout=10)
            assert r.status_code == 400, f"{name}: {r.status_code} {r.text[:200]}"
            assert "port" in r.json()["message"], r.text
        # The one shape that is allowed, from A's running server: not starting any more.
        r = requests.post(
            url, json={"port": PORT_RANGE[0] + 2, "reported_ip": "127.0.0.1"}, headers=h
        )
        assert r.status_code == 400
    audit = [line for line in hub.log.read_text().splitlines() if "AUDIT refused" in line]
    assert len(audit) >= 2 * len(names)
    after = hub.server(A)
    # What the hub tracks of the job is unchanged (the hub itself may add to it meanwhile).
    assert {k: after["state"].get(k) for k in before["state"]} == before["state"]
    assert after["state"]["job_id"] == job
    assert after["url"] == before["url"]
    assert after["ready"]

    hub.stop_server(A)
    hub.cluster.wait_state(job, {"GONE", "CANCELLED", "COMPLETED"}, timeout=30)
    assert not canary.exists()


# The job's own code (here: a Jupyter config in the user's home, run by the server at start)
# replaces the job's output file with a link to a hub secret, or a FIFO, and fails the job.
ATTACK = """\
import json, os, urllib.error, urllib.request
mode = open(os.path.expanduser("~/.rarehub-attack")).read().split()
# While the server is starting, its own token asks the hub to run a command at stop.
codes = []
for body in ({"exec_prefix": "touch %s; sudo -E -u {username}" % mode[2]}, {"port": 22}):
    req = urllib.request.Request(
        os.environ["JUPYTERHUB_API_URL"] + "/batchspawner", data=json.dumps(body).encode(),
        headers={"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"]}, method="POST")
    try:
        codes.append(urllib.request.urlopen(req, timeout=10).status)
    except urllib.error.HTTPError as e:
        codes.append(e.code)
open(os.path.expanduser("~/.rarehub-attack-codes"), "w").write(json.dumps(codes))
log = os.path.expanduser("~/.rarehub-jupyter-%s.log" % os.environ["SLURM_JOB_ID"])
os.unlink(log)
if mode[0] == "link":
    os.symlink(mode[1], log)
else:
    os.mkfifo(log)
os._exit(3)
"""


@pytest.mark.parametrize("mode", ["link", "fifo"])
def test_output_file_link_or_fifo_shows_nothing_and_the_hub_answers(hub, servers, mode, tmp_path):
    if hub.server(B):
        hub.stop_server(B)
    secret = tmp_path / "hub-secret"  # under pytest's root-only tmp: the hub reads, B cannot
    secret.write_text(f"SECRET-{secrets.token_hex(8)}\n")
    pw = pwd.getpwnam(B)
    home = Path(pw.pw_dir)
    files = {home / ".jupyter" / "jupyter_server_config.py": ATTACK}
    canary = Path("/tmp") / f"rarehub-canary-{secrets.token_hex(6)}"
    files[home / ".rarehub-attack"] = f"{mode} {secret} {canary}\n"
    codes = home / ".rarehub-attack-codes"
    for path, text in files.items():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        os.chown(path.parent, pw.pw_uid, pw.pw_gid)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    try:
        with hub_health(hub) as worst:
            mark = len(hub.log.read_text())
            # 500: the spawn failed within JupyterHub's slow_spawn_timeout (the usual case)
            assert hub.spawn(B).status_code in (201, 202, 500)
            wait_for(
                lambda: "before the server started" in hub.log.read_text()[mark:],
                timeout=60,
                what="the spawn to fail",
            )
            progress = hub.api("GET", f"/users/{B}/server/progress", timeout=10).text
        log = hub.log.read_text()[mark:]
    finally:
        for path in files:
            path.unlink()
    # The job's own token, while its server was starting: both refused, nothing ran.
    assert json.loads(codes.read_text()) == [400, 400]
    codes.unlink()
    assert not canary.exists()
    assert secret.read_text().strip() not in log + progress
    why = "symbolic link" if mode == "link" else "not a regular file"
    assert "AUDIT job output" in log
    assert why in log
    assert worst[0] < 1.0, f"/hub/health took {worst[0]:.2f} s"
