"""deploy/single-server/install.py on this machine, for real.

A real PostgreSQL (Debian's, ``initdb`` into a temporary folder as user ``postgres``, on a
free loopback port, its unix socket in the same folder) is the hub database. The installer
runs twice into a temporary prefix: the second run must change nothing. Then the fallback
``rarehub-services start`` (this machine has no systemd) starts the hub and nginx, and
``/hub/health`` answers over HTTPS through nginx, verified against the installer's example
CA. The backup script dumps the hub database and the catalog. Everything binds 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests
from postgres import as_postgres

from rarehub_testing import REPO, free_port_block, require_executable, wait_for

INSTALLER = REPO / "deploy" / "single-server" / "install.py"


@pytest.fixture(scope="module", autouse=True)
def installed_code_only():
    """What the installer installed runs its own code: no PYTHONPATH into the working tree
    (developers run the suite with one; systemd services never have one)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("PYTHONPATH", raising=False)
        yield


@pytest.fixture(scope="module")
def postgres(postgres_server):
    """The session's throw-away PostgreSQL on 127.0.0.1:<free port>, socket in its folder
    (tests/conftest.py, tests/support/postgres.py)."""
    return {
        "port": postgres_server.port,
        "socket_dir": postgres_server.socket_dir,
        "bin": postgres_server.bin,
    }


def processes_under(prefix: Path) -> list[str]:
    """Command lines of the running processes that mention ``prefix``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended meanwhile
            continue
        if str(prefix) in text:
            found.append(text)
    return found


def psql(pg: dict, db: str, sql: str) -> str:
    return as_postgres(
        str(pg["bin"] / "psql"),
        "-X",
        "-h",
        str(pg["socket_dir"]),
        "-p",
        str(pg["port"]),
        "-d",
        db,
        "-tAc",
        sql,
    ).stdout.strip()


def install(args: list[str]) -> dict:
    result = subprocess.run(
        ["/usr/bin/python3", str(INSTALLER), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"installer failed:\n{result.stderr[-4000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def site(postgres, tmp_path_factory):
    require_executable("nginx", "the TLS front (Debian package nginx)")
    require_executable("openssl", "the example certificates (Debian package openssl)")
    require_executable("npm", "installs configurable-http-proxy")
    work = tmp_path_factory.mktemp("single-server")
    prefix = Path(tempfile.mkdtemp(prefix="rarehub-site-", dir="/tmp"))
    hub_port = free_port_block(3)
    https_port = free_port_block(2)
    while https_port + 1 >= hub_port and https_port <= hub_port + 2:  # keep the blocks apart
        https_port = free_port_block(2)
    http_port = https_port + 1
    db_url = work / "db_url"
    db_url.write_text(
        f"postgresql://rarehub_hub:{secrets.token_hex(12)}@127.0.0.1:{postgres['port']}"
        "/rarehub_hub\n"
    )
    data = work / "data"
    data.mkdir()
    (data / "run-0001.bin").write_bytes(os.urandom(4096))
    catalog = work / "catalog.sqlite"
    args = [
        "--prefix",
        str(prefix),
        "--server-name",
        "localhost",
        "--hub-port",
        str(hub_port),
        "--https-listen",
        f"127.0.0.1:{https_port}",
        "--http-listen",
        f"127.0.0.1:{http_port}",
        "--tls-self-signed",
        "--db-url-file",
        str(db_url),
        "--postgres-socket-dir",
        str(postgres["socket_dir"]),
        "--postgres-port",
        str(postgres["port"]),
        "--catalog",
        str(catalog),
    ]
    info = {"prefix": prefix, "args": args, "hub_port": hub_port, "https_port": https_port}
    info.update(http_port=http_port, catalog=catalog, data=data)
    info["first"] = install(args)
    info["second"] = install(args)
    try:
        yield info
    finally:
        subprocess.run([str(prefix / "bin" / "rarehub-services"), "stop"], timeout=120)
        shutil.rmtree(prefix, ignore_errors=True)


def test_second_run_changes_nothing(site):
    first, second = site["first"], site["second"]
    expected = {"layout", "hub-env", "proxy", "site-config", "database", "postgres-role", "tls"}
    assert expected | {"nginx-config", "scripts", "systemd-units"} <= set(first["changed"])
    assert second["changed"] == [], f"second run changed {second['changed']}"
    assert set(second["unchanged"]) == set(first["changed"]) | set(first["unchanged"])
    if not Path("/run/systemd/system").is_dir():
        assert any("systemd is not running" in n for n in second["notes"])
    prefix = site["prefix"]
    for unit in ("rarehub-hub.service", "rarehub-nginx.service", "rarehub-backup.service"):
        text = (prefix / "etc" / "systemd" / unit).read_text()
        assert str(prefix) in text
    assert (prefix / "etc" / "rarehub" / "db_url").stat().st_mode & 0o077 == 0
    assert (prefix / "etc" / "rarehub" / "tls" / "server.key").stat().st_mode & 0o077 == 0


def test_systemd_units_pass_systemd_analyze(site):
    """The units are only written here (systemd is not PID 1), but systemd checks them."""
    tool = require_executable("systemd-analyze", "verifies the units (Debian package systemd)")
    units = sorted(str(p) for p in (site["prefix"] / "etc" / "systemd").iterdir())
    assert len(units) == 4
    result = subprocess.run([tool, "verify", *units], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_site_yaml_passes_the_hubs_own_check(site):
    prefix = site["prefix"]
    out = subprocess.run(
        [
            str(prefix / "venv" / "bin" / "rarehub-hub"),
            "check-config",
            str(prefix / "etc" / "rarehub" / "site.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    checked = json.loads(out)
    hub = checked["hub"]
    assert hub["ip"] == "127.0.0.1"
    assert hub["port"] == site["hub_port"]
    assert hub["proxy_command"] == str(prefix / "proxy/node_modules/.bin/configurable-http-proxy")
    assert checked["auth"]["type"] == "pam"


def test_hub_on_postgres_behind_nginx_tls(site, postgres):
    prefix = site["prefix"]
    services = str(prefix / "bin" / "rarehub-services")
    start = subprocess.run([services, "start"], capture_output=True, text=True, timeout=240)
    assert start.returncode == 0, start.stderr + (prefix / "var/log/hub.log").read_text()[-3000:]
    ca = prefix / "etc" / "rarehub" / "tls" / "ca.crt"
    url = f"https://127.0.0.1:{site['https_port']}/hub/health"

    r = wait_for(
        lambda: requests.get(url, verify=str(ca), timeout=5),
        timeout=60,
        what="hub health through nginx",
    )
    assert r.status_code == 200
    assert r.url == url
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, timeout=5)  # the example CA is not in the system's trust store
    redirect = requests.get(
        f"http://127.0.0.1:{site['http_port']}/hub/health", allow_redirects=False, timeout=5
    )
    assert redirect.status_code == 301
    assert redirect.headers["Location"] == url

    # the hub's tables are in PostgreSQL, owned by the installer's role
    assert psql(postgres, "rarehub_hub", "SELECT to_regclass('public.users')") == "users"
    owner = "SELECT tableowner FROM pg_tables WHERE tablename = 'users'"
    assert psql(postgres, "rarehub_hub", owner) == "rarehub_hub"
    assert not (prefix / "var/lib/rarehub/jupyterhub.sqlite").exists()

    status = subprocess.run([services, "status"], capture_output=True, text=True, timeout=30)
    assert status.returncode == 0, status.stdout
    stop = subprocess.run([services, "stop"], capture_output=True, text=True, timeout=120)
    assert stop.returncode == 0, stop.stderr
    status = subprocess.run([services, "status"], capture_output=True, text=True, timeout=30)
    assert status.returncode == 3
    # nothing the services started is left behind: not the proxy, not the idle culler
    assert wait_for(lambda: not processes_under(prefix), timeout=15, what="no leftovers") is True
    # the documented upgrade step: a no-op on a current schema, but it must run
    upgrade = subprocess.run([services, "upgrade-db"], capture_output=True, text=True, timeout=180)
    assert upgrade.returncode == 0, upgrade.stderr[-3000:]
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, verify=str(ca), timeout=5)


def test_backup_holds_hub_database_and_catalog(site, postgres):
    prefix = site["prefix"]
    rarehub = prefix / "venv" / "bin" / "rarehub"
    subprocess.run(
        [
            str(rarehub),
            "catalog",
            "--db",
            str(site["catalog"]),
            "scan",
            "--dataset",
            "ge-test",
            str(site["data"]),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    result = subprocess.run(
        [str(prefix / "bin" / "rarehub-backup")],
        capture_output=True,
        text=True,
        timeout=180,
        env=dict(os.environ, PATH=f"{postgres['bin']}{os.pathsep}{os.environ['PATH']}"),
    )
    assert result.returncode == 0, result.stderr
    backup = Path(result.stdout.strip().splitlines()[-1])
    assert backup.parent == prefix / "backups"
    manifest = json.loads((backup / "MANIFEST.json").read_text())
    assert set(manifest) == {"hub.pgdump", "catalog.sqlite"}
    for name, entry in manifest.items():
        assert hashlib.sha256((backup / name).read_bytes()).hexdigest() == entry["sha256"]
    listing = subprocess.run(
        [str(postgres["bin"] / "pg_restore"), "--list", str(backup / "hub.pgdump")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert "TABLE public users" in listing
    tables = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    with sqlite3.connect(site["catalog"]) as live, sqlite3.connect(backup / "catalog.sqlite") as b:
        assert b.execute(tables).fetchall() == live.execute(tables).fetchall()
        for (table,) in live.execute(tables):
            query = f'SELECT * FROM "{table}"'
            assert b.execute(query).fetchall() == live.execute(query).fetchall()
