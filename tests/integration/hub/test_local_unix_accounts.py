"""The single-server deployment with PAM: each server runs as the logged-in unix user.

A real hub (``rarehub-hub start``, root, ``deployment: local``, ``auth.type: pam``), a real
unix account with a password set by ``chpasswd``, a login through the form and a spawn: the
server's process belongs to that user (never root), and the tutorials in their home were
copied by their own process. (``root`` is in ``blocked_users``: checked by the unit tests,
which need no root password.)
"""

from __future__ import annotations

import pwd
import secrets
import shutil
import sys
from pathlib import Path

import pytest
import slurm
import yaml
from slurm_hub import SlurmHub, chp, set_unix_passwords

from rarehub_testing import free_port_block, wait_for

pytestmark = pytest.mark.security

USER = "rarehub-s3"
PASSWORD = secrets.token_urlsafe(12)
ADMIN_TOKEN = secrets.token_hex(24)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    pw = slurm.ensure_unix_user(USER)
    shutil.rmtree(Path(pw.pw_dir) / "tutorials", ignore_errors=True)
    set_unix_passwords([USER], PASSWORD)
    state = tmp_path_factory.mktemp("local-pam")
    port = free_port_block(3)
    site = {
        "deployment": "local",
        "state_dir": str(state / "state"),
        "env_prefix": sys.prefix,
        "hub": {"ip": "127.0.0.1", "port": port, "proxy_command": chp()},
        "auth": {"type": "pam", "allowed_users": [USER]},
    }
    config = state / "site.yaml"
    config.write_text(yaml.safe_dump(site))
    extra = state / "state" / "jupyterhub_config.d"
    extra.mkdir(parents=True)
    (extra / "50-test-admin.py").write_text(
        f"c.JupyterHub.services.append({{'name': 'test-admin', 'api_token': {ADMIN_TOKEN!r}}})\n"
        "c.JupyterHub.load_roles.append({'name': 'test-admin', 'scopes': "
        "['admin:users', 'admin:servers', 'list:users'], 'services': ['test-admin']})\n"
    )
    h = SlurmHub(f"http://127.0.0.1:{port}", config, state / "hub.log", None, ADMIN_TOKEN, "")
    try:
        h.start()
        yield h
    finally:
        if h.proc is not None and h.proc.poll() is None:
            h.api("DELETE", f"/users/{USER}/server", timeout=10)
        h.stop()


def test_a_pam_user_server_runs_as_that_user_never_root(hub):
    s, xsrf = hub.login(USER, PASSWORD)
    r = s.post(f"{hub.base}/hub/api/users/{USER}/server", headers={"X-XSRFToken": xsrf})
    assert r.status_code in (201, 202), r.text
    wait_for(lambda: hub.server(USER).get("ready"), timeout=90, what="the server")
    pw = pwd.getpwnam(USER)
    owners = set()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and b"JUPYTERHUB_USER=" + USER.encode() in (
                proc / "environ"
            ).read_bytes().split(b"\0"):
                owners.add(proc.stat().st_uid)
        except OSError:
            continue
    assert owners == {pw.pw_uid}
    welcome = Path(pw.pw_dir) / "tutorials" / "00-welcome.ipynb"
    assert welcome.is_file()
    assert welcome.stat().st_uid == pw.pw_uid  # copied by the user's own process
    hub.stop_server(USER)
