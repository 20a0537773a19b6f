"""deploy/single-server/install.py on this machine, for real.

A real PostgreSQL (Debian's, ``initdb`` into a temporary folder as user ``postgres``, on a
free loopback port, its unix socket in the same folder) is the hub database. The installer
runs twice into a temporary prefix: the second run must change nothing. Then the fallback
``rarehub-services start`` (this machine has no systemd) starts the hub and nginx, and
``/hub/health`` answers over HTTPS through nginx, verified against the installer's example
CA. With ``--monitoring`` it also starts Debian's Prometheus and Alertmanager: Prometheus
scrapes ``/hub/metrics`` with the token the installer made, loads the shipped rules and
finds Alertmanager. The backup script dumps the hub database and the catalog. Everything
binds 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
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
    require_executable("prometheus", "--monitoring (Debian package prometheus)")
    require_executable("prometheus-alertmanager", "--monitoring (prometheus-alertmanager)")
    work = tmp_path_factory.mktemp("single-server")
    prefix = Path(tempfile.mkdtemp(prefix="rarehub-site-", dir="/tmp"))
    hub_port = free_port_block(3)
    https_port = free_port_block(2)
    while https_port + 1 >= hub_port and https_port <= hub_port + 2:  # keep the blocks apart
        https_port = free_port_block(2)
    http_port = https_port + 1
    prometheus_port = free_port_block(2)  # and Alertmanager on the next
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
        "--monitoring",
        "--prometheus-listen",
        f"127.0.0.1:{prometheus_port}",
        "--alertmanager-listen",
        f"127.0.0.1:{prometheus_port + 1}",
    ]
    info = {"prefix": prefix, "args": args, "hub_port": hub_port, "https_port": https_port}
    info["prometheus_port"] = prometheus_port
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
    expected.add("monitoring")
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
    token = prefix / "etc" / "prometheus" / "rarehub-hub-token"
    assert token.stat().st_mode & 0o077 == 0
    assert len(token.read_text().strip()) == 64  # made once: the second run kept it
    assert token.stat().st_uid == pwd.getpwnam("prometheus").pw_uid
    rules = sorted(p.name for p in (prefix / "etc" / "prometheus" / "rules").iterdir())
    assert rules == ["rarehub.rules.yml"]  # the rules, not their unit tests


def test_systemd_units_pass_systemd_analyze(site):
    """The units are only written here (systemd is not PID 1), but systemd checks them."""
    tool = require_executable("systemd-analyze", "verifies the units (Debian package systemd)")
    units = sorted(str(p) for p in (site["prefix"] / "etc" / "systemd").iterdir())
    assert len(units) == 6  # hub, nginx, backup service and timer, Prometheus, Alertmanager
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

    # --monitoring: Prometheus scrapes /hub/metrics with the installer's token (the first
    # scrape comes within the shipped 30 s interval), runs the shipped rules as the
    # prometheus user, and finds Alertmanager; neither listens beyond loopback
    prometheus = f"http://127.0.0.1:{site['prometheus_port']}"

    def hub_scraped():
        got = requests.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]
        hub = [t for t in got["activeTargets"] if t["labels"]["job"] == "rarehub-hub"]
        return hub[0] if hub and hub[0]["health"] == "up" else None

    target = wait_for(hub_scraped, timeout=90, what="Prometheus scraping the hub with its token")
    assert target["scrapeUrl"] == f"http://127.0.0.1:{site['hub_port'] + 1}/hub/metrics"
    up = requests.get(
        f"{prometheus}/api/v1/query", params={"query": 'up{job="rarehub-hub"}'}, timeout=5
    ).json()["data"]["result"]
    assert [r["value"][1] for r in up] == ["1"]
    groups = requests.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
    assert any(rule["name"] == "RareHubVolumeAlmostFull" for g in groups for rule in g["rules"])
    managers = wait_for(
        lambda: requests.get(f"{prometheus}/api/v1/alertmanagers", timeout=5).json()["data"][
            "activeAlertmanagers"
        ],
        timeout=60,
        what="Prometheus finding Alertmanager",
    )
    assert managers[0]["url"].startswith(f"http://127.0.0.1:{site['prometheus_port'] + 1}/")
    for name in ("prometheus", "alertmanager"):
        pid = (prefix / "var" / "run" / f"{name}.pid").read_text().strip()
        assert Path(f"/proc/{pid}").stat().st_uid == pwd.getpwnam("prometheus").pw_uid, name
    listening = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True).stdout
    for line in listening.splitlines():
        if "prometheus" in line or "alertmanag" in line:
            assert line.split()[3].startswith("127.0.0.1:"), line

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
