#!/usr/bin/env python3
"""Install RareHub on one server: a chain of idempotent ``ensure_*`` steps (after TLJH).

    sudo /usr/bin/python3 deploy/single-server/install.py --prefix /opt/rarehub-site \\
        --server-name hub.example.org --tls-self-signed --https-listen 0.0.0.0:443

Run it from a checkout of the repository (it installs the hub environment from that
checkout's ``uv.lock``). Every step compares what is there with what should be there and
changes only the difference; a second run with the same options changes nothing. The last
line on stdout is a JSON report ``{"changed": [...], "unchanged": [...], "notes": [...]}``,
also kept in ``PREFIX/var/lib/rarehub-install/last-report.json``.

What it installs under PREFIX (nothing outside it unless systemd runs and ``--systemd`` is
given):

- ``venv/``: the hub environment (``uv sync --frozen --extra hub --no-dev``) from ``uv.lock``;
- ``proxy/``: configurable-http-proxy from ``hub/package-lock.json`` (``npm ci``);
- ``etc/rarehub/site.yaml``: the site YAML (``deployment: local``), written once and then
  yours to edit (the installer never overwrites it);
- ``var/lib/rarehub/``: the hub's state folder; with ``--db-url`` a
  ``jupyterhub_config.d/10-database.py`` that points the hub at PostgreSQL;
- ``etc/rarehub/tls/``: with ``--tls-self-signed`` an example CA and a server certificate
  signed by it (replace them with real ones for production);
- ``etc/nginx/nginx.conf``: nginx as the TLS front, proxying to the hub on loopback;
- ``etc/systemd/*.service|*.timer``: units for the hub, nginx and the nightly backup;
- ``bin/rarehub-backup``: backs up the hub database and the catalog into ``backups/``;
- ``bin/rarehub-services``: the fallback where systemd does not run (containers, CI):
  ``start|stop|status`` the same services by hand, with pid files and logs in ``var/``;
- with ``--monitoring``: Debian's Prometheus and Alertmanager (``apt-get install prometheus
  prometheus-alertmanager`` first) with ``deploy/monitoring/``'s scrape configuration, rules
  and routing in ``etc/prometheus/``, this site's ports filled in, both on loopback and run
  as the ``prometheus`` user; a token for ``/hub/metrics`` (``etc/prometheus/rarehub-hub-token``,
  made once) and the hub service that may use it (``jupyterhub_config.d/20-prometheus.py``).
  ``etc/prometheus/alertmanager.yml`` is written once: its receivers are the site's.

Only the Python standard library is used, so ``/usr/bin/python3`` can run it before anything
else is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TEMPLATES = HERE / "templates"
MONITORING = REPO / "deploy" / "monitoring"
UV_VERSION = "0.13.9"  # the same uv as ./dev


class InstallError(RuntimeError):
    """A step cannot be done; the message says which and how to fix it."""


@dataclass
class Report:
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def step(self, name: str, changed: bool) -> None:
        (self.changed if changed else self.unchanged).append(name)
        say(f"{name}: {'changed' if changed else 'ok'}")


def say(msg: str) -> None:
    print(f"[rarehub-install] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)
    except subprocess.CalledProcessError as e:
        raise InstallError(
            f"{shlex.join(cmd)} failed ({e.returncode}):\n{e.stderr[-3000:]}"
        ) from None
    except FileNotFoundError:
        raise InstallError(f"{cmd[0]} not found") from None


def write_file(path: Path, text: str, mode: int = 0o644) -> bool:
    """Write ``text`` to ``path`` with ``mode`` unless it is already so; True if changed.

    Written to a temporary file in the same folder and renamed: never half a file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text() == text:
        if path.stat().st_mode & 0o7777 == mode:
            return False
        path.chmod(mode)
        return True
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    Path(tmp).chmod(mode)
    Path(tmp).replace(path)
    return True


def render(template: str, values: dict[str, str]) -> str:
    """``templates/NAME`` with every ``@KEY@`` replaced; a key without a value is an error."""
    text = (TEMPLATES / template).read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    leftover = re.search(r"@[A-Z_]+@", text)
    if leftover:
        raise InstallError(f"template {template}: no value for {leftover[0]}")
    return text


def digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(str(p.relative_to(REPO)).encode() + b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()


def systemd_running() -> bool:
    """True when systemd is PID 1 (sd_booted(3): /run/systemd/system exists)."""
    return Path("/run/systemd/system").is_dir()


# ---- the steps ----------------------------------------------------------------------


@dataclass
class Options:
    prefix: Path
    server_name: str
    hub_port: int
    https_listen: str
    http_listen: str
    auth: str
    admin_users: list[str]
    db_url_file: Path | None
    tls_self_signed: bool
    tls_cert: Path | None
    tls_key: Path | None
    catalog: Path | None
    backup_keep: int
    systemd: bool
    uv: str | None
    postgres_socket_dir: Path | None
    postgres_port: int
    postgres_admin: str
    monitoring: bool = False
    prometheus_listen: str = "127.0.0.1:9090"
    alertmanager_listen: str = "127.0.0.1:9093"

    @property
    def venv(self) -> Path:
        return self.prefix / "venv"

    @property
    def etc(self) -> Path:
        return self.prefix / "etc"

    @property
    def state_dir(self) -> Path:
        return self.prefix / "var" / "lib" / "rarehub"

    @property
    def run_dir(self) -> Path:
        return self.prefix / "var" / "run"

    @property
    def log_dir(self) -> Path:
        return self.prefix / "var" / "log"

    @property
    def proxy_command(self) -> Path:
        return self.prefix / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"

    @property
    def tls_dir(self) -> Path:
        return self.etc / "rarehub" / "tls"

    @property
    def cert(self) -> Path:
        return self.tls_cert or self.tls_dir / "server.crt"

    @property
    def key(self) -> Path:
        return self.tls_key or self.tls_dir / "server.key"


def ensure_layout(o: Options, r: Report) -> None:
    changed = False
    for d, mode in [
        (o.prefix, 0o755),
        (o.etc / "rarehub", 0o755),
        (o.state_dir, 0o700),
        (o.state_dir / "jupyterhub_config.d", 0o700),
        (o.run_dir, 0o755),
        (o.log_dir, 0o755),
        (o.prefix / "backups", 0o700),
        (o.prefix / "bin", 0o755),
        (o.prefix / "var" / "lib" / "rarehub-install", 0o755),
    ]:
        if not d.is_dir():
            d.mkdir(parents=True)
            changed = True
        if d.stat().st_mode & 0o7777 != mode:
            d.chmod(mode)
            changed = True
    r.step("layout", changed)


def find_uv(o: Options) -> str:
    for cand in [o.uv, os.environ.get("RAREHUB_UV"), str(REPO / ".rarehub/tools/bin/uv")]:
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return cand
    on_path = shutil.which("uv")
    if on_path:
        return on_path
    tools = o.prefix / "tools"
    uv = tools / "bin" / "uv"
    if not uv.exists():
        say(f"installing uv {UV_VERSION} into {tools}")
        run(["/usr/bin/python3", "-m", "venv", str(tools)])
        run([str(tools / "bin/python"), "-m", "pip", "install", "-q", f"uv=={UV_VERSION}"])
    return str(uv)


def ensure_hub_env(o: Options, r: Report) -> None:
    """The hub environment, exactly as ``uv.lock`` says (hub extra, no dev tools)."""
    stamp = o.venv / ".rarehub-install.sha256"
    # the lock and the project's own code: a new checkout with changed code but the same
    # lock must still reinstall the rarehub package (its version number may not move)
    code = sorted(
        p
        for folder in ("analysis_lib", "hub/rarehub_hub", "tutorials")
        for p in (REPO / folder).rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and not any(part.startswith(".") for part in p.relative_to(REPO).parts)
    )
    want = digest(REPO / "uv.lock", REPO / "pyproject.toml", *code)
    if (
        stamp.exists()
        and stamp.read_text().strip() == want
        and (o.venv / "bin" / "rarehub-hub").exists()
    ):
        r.step("hub-env", False)
        return
    env = dict(os.environ, UV_PROJECT_ENVIRONMENT=str(o.venv), UV_NATIVE_TLS="1")
    run(
        [
            find_uv(o),
            "sync",
            "--quiet",
            "--frozen",
            "--no-dev",
            "--extra",
            "hub",
            "--no-editable",
            "--reinstall-package",
            "rarehub",
            "--python",
            "/usr/bin/python3",
            "--project",
            str(REPO),
        ],
        env=env,
    )
    run(["chmod", "-R", "a+rX", str(o.venv)])
    write_file(stamp, want + "\n")
    r.step("hub-env", True)


def ensure_proxy(o: Options, r: Report) -> None:
    """configurable-http-proxy, pinned by hub/package-lock.json."""
    lock = REPO / "hub" / "package-lock.json"
    target = o.prefix / "proxy"
    installed = target / "node_modules" / ".rarehub-package-lock.json"
    if (
        o.proxy_command.exists()
        and installed.exists()
        and installed.read_bytes() == (lock.read_bytes())
    ):
        r.step("proxy", False)
        return
    if not shutil.which("npm"):
        raise InstallError("npm not found: apt-get install nodejs npm, then run again")
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO / "hub" / "package.json", target / "package.json")
    shutil.copyfile(lock, target / "package-lock.json")
    run(["npm", "ci", "--prefix", str(target), "--no-audit", "--no-fund", "--loglevel=error"])
    shutil.copyfile(lock, installed)
    r.step("proxy", True)


def ensure_site_config(o: Options, r: Report) -> None:
    """The site YAML, written once; afterwards it belongs to the admin."""
    site = o.etc / "rarehub" / "site.yaml"
    if site.exists():
        r.step("site-config", False)
        r.notes.append(f"{site} exists and was left as it is (the installer never overwrites it)")
        return
    admins = json.dumps(o.admin_users)
    # PAM: only the admins (or, without any, members of the unix group rarehub-users) may log
    # in until the admin names more in the site YAML: never every unix account by default.
    who = f"allowed_users: {admins}" if o.admin_users else 'allowed_groups: ["rarehub-users"]'
    auth = f"{{type: pam, admin_users: {admins}, {who}}}"
    if not o.admin_users and o.auth == "pam":
        r.notes.append(
            "PAM logins: only members of the unix group rarehub-users may log in "
            "(auth.allowed_groups in the site YAML); add users to it, or name others there"
        )
    if o.auth == "shared-password":
        password = hashlib.sha256(os.urandom(32)).hexdigest()[:20]
        auth = f"{{type: shared-password, shared_password: {password}, admin_users: {admins}}}"
    text = render(
        "site.yaml",
        {
            "STATE_DIR": str(o.state_dir),
            "ENV_PREFIX": str(o.venv),
            "HUB_PORT": str(o.hub_port),
            "PROXY": str(o.proxy_command),
            "AUTH": auth,
        },
    )
    write_file(site, text, 0o600)  # may hold the shared password
    r.step("site-config", True)


def ensure_database(o: Options, r: Report) -> None:
    """SQLite in the state folder (JupyterHub's default here) or PostgreSQL via --db-url-file."""
    conf = o.state_dir / "jupyterhub_config.d" / "10-database.py"
    if o.db_url_file is None:
        changed = conf.exists()
        if changed:
            conf.unlink()
        r.step("database", changed)
        return
    if not o.db_url_file.is_file():
        raise InstallError(f"--db-url-file {o.db_url_file}: no such file")
    url = o.db_url_file.read_text().strip()
    if not url.startswith("postgresql://"):
        raise InstallError(
            f"--db-url-file {o.db_url_file}: holds {url.split(':', 1)[0]!r}…, "
            "expected a postgresql://USER:PASSWORD@HOST:PORT/DB URL"
        )
    secret = o.etc / "rarehub" / "db_url"
    changed = write_file(secret, url + "\n", 0o600)
    changed |= write_file(conf, render("10-database.py.in", {"DB_URL_FILE": str(secret)}), 0o600)
    r.step("database", changed)


def ensure_postgres_role(o: Options, r: Report) -> None:
    """With --postgres-socket-dir: the role and database of the URL, created if missing.

    Runs ``psql`` as the PostgreSQL superuser over the unix socket (peer authentication).
    """
    if o.postgres_socket_dir is None or o.db_url_file is None:
        return
    from urllib.parse import unquote, urlparse

    url = urlparse((o.etc / "rarehub" / "db_url").read_text().strip())
    user, password, db = unquote(url.username or ""), unquote(url.password or ""), url.path[1:]
    for name in (user, db):
        if not name.replace("_", "").isalnum():
            raise InstallError(f"database/role name {name!r}: use letters, digits and _ only")
    psql = [
        "runuser",
        "-u",
        o.postgres_admin,
        "--",
        "psql",
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        str(o.postgres_socket_dir),
        "-p",
        str(o.postgres_port),
        "-d",
        "postgres",
        "-tAc",
    ]
    changed = False
    if run([*psql, f"SELECT 1 FROM pg_roles WHERE rolname = '{user}'"]).stdout.strip() != "1":
        quoted = password.replace("'", "''")
        run([*psql, f"CREATE ROLE {user} LOGIN PASSWORD '{quoted}'"])
        changed = True
    if run([*psql, f"SELECT 1 FROM pg_database WHERE datname = '{db}'"]).stdout.strip() != "1":
        run([*psql, f"CREATE DATABASE {db} OWNER {user}"])
        changed = True
    r.step("postgres-role", changed)


def ensure_tls(o: Options, r: Report) -> None:
    """With --tls-self-signed: an example CA and a server certificate it signs (openssl)."""
    if not o.tls_self_signed:
        for p in (o.cert, o.key):
            if not p.is_file():
                raise InstallError(
                    f"TLS file {p} missing: give --tls-cert/--tls-key or use --tls-self-signed"
                )
        r.step("tls", False)
        return
    d = o.tls_dir
    d.mkdir(parents=True, exist_ok=True)
    d.chmod(0o755)
    ca_key, ca_crt = d / "ca.key", d / "ca.crt"
    changed = False
    if not (ca_key.exists() and ca_crt.exists()):
        run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:3072",
                "-nodes",
                "-sha256",
                "-days",
                "3650",
                "-subj",
                "/CN=RareHub example CA",
                "-keyout",
                str(ca_key),
                "-out",
                str(ca_crt),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ]
        )
        ca_key.chmod(0o600)
        changed = True
    names = [f"DNS:{o.server_name}", "DNS:localhost", "IP:127.0.0.1"]
    try:
        ipaddress.ip_address(o.server_name)
        names[0] = f"IP:{o.server_name}"
    except ValueError:
        pass
    san = ",".join(dict.fromkeys(names))
    stamp = d / ".server.san"
    if (
        changed
        or not (o.cert.exists() and o.key.exists())
        or not stamp.exists()
        or (stamp.read_text().strip() != san)
    ):
        csr = d / "server.csr"
        ext = d / "server.ext"
        ext.write_text(
            f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
            "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        )
        run(
            [
                "openssl",
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-sha256",
                "-subj",
                f"/CN={o.server_name}",
                "-keyout",
                str(o.key),
                "-out",
                str(csr),
            ]
        )
        run(
            [
                "openssl",
                "x509",
                "-req",
                "-in",
                str(csr),
                "-CA",
                str(ca_crt),
                "-CAkey",
                str(ca_key),
                "-CAcreateserial",
                "-days",
                "825",
                "-sha256",
                "-extfile",
                str(ext),
                "-out",
                str(o.cert),
            ]
        )
        o.key.chmod(0o600)
        csr.unlink()
        ext.unlink()
        stamp.write_text(san + "\n")
        changed = True
    r.step("tls", changed)


def ensure_nginx_config(o: Options, r: Report) -> None:
    """A self-contained nginx.conf: TLS on --https-listen, redirect on --http-listen."""
    nginx = o.prefix / "var" / "nginx"
    for sub in ("", "client_body", "proxy"):
        (nginx / sub).mkdir(parents=True, exist_ok=True)
    redirect = ""
    if o.http_listen:
        https_port = o.https_listen.rsplit(":", 1)[-1]
        redirect = render(
            "nginx-redirect.conf", {"HTTP_LISTEN": o.http_listen, "HTTPS_PORT": https_port}
        )
    text = render(
        "nginx.conf",
        {
            "PREFIX": str(o.prefix),
            "USER_LINE": "user www-data;" if os.geteuid() == 0 else "# (not root: no user)",
            "HTTPS_LISTEN": o.https_listen,
            "SERVER_NAME": o.server_name,
            "CERT": str(o.cert),
            "KEY": str(o.key),
            "HUB_PORT": str(o.hub_port),
            "REDIRECT": redirect,
        },
    )
    changed = write_file(o.etc / "nginx" / "nginx.conf", text)
    if changed and shutil.which("nginx"):
        run(["nginx", "-t", "-q", "-c", str(o.etc / "nginx" / "nginx.conf")])
    r.step("nginx-config", changed)


def prometheus_user() -> str:
    """The user Prometheus and Alertmanager run as: Debian's ``prometheus`` when the
    installer is root and the package made it, else the installing user ("")."""
    if os.geteuid() != 0:
        return ""
    try:
        pwd.getpwnam("prometheus")
    except KeyError:
        return ""
    return "prometheus"


def monitoring_commands(o: Options) -> dict[str, list[str]]:
    """The Prometheus and Alertmanager command lines (for the units and rarehub-services)."""
    etc, data = o.etc / "prometheus", o.prefix / "var" / "lib" / "prometheus"
    return {
        "prometheus": [
            shutil.which("prometheus") or "/usr/bin/prometheus",
            f"--config.file={etc / 'prometheus.yml'}",
            f"--storage.tsdb.path={data / 'tsdb'}",
            f"--web.listen-address={o.prometheus_listen}",
        ],
        "alertmanager": [
            shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager",
            f"--config.file={etc / 'alertmanager.yml'}",
            f"--storage.path={data / 'alertmanager'}",
            f"--web.listen-address={o.alertmanager_listen}",
            # no clustering: it would listen on every interface (:9094) and gossip
            "--cluster.listen-address=",
        ],
    }


def prometheus_config(o: Options, token: Path) -> str:
    """deploy/monitoring/prometheus.yml with this site's addresses, token and rules."""
    text = (MONITORING / "prometheus.yml").read_text()
    for old, new in [
        ("/etc/prometheus/rarehub-hub-token", str(token)),
        ("- rules/rarehub.rules.yml", f"- {o.etc / 'prometheus' / 'rules' / 'rarehub.rules.yml'}"),
        ('["127.0.0.1:9093"]', f'["{o.alertmanager_listen}"]'),
        ('["127.0.0.1:8001"]', f'["127.0.0.1:{o.hub_port + 1}"]'),  # the hub API
        ('["127.0.0.1:8003"]', f'["127.0.0.1:{o.hub_port + 3}"]'),  # the storage monitor
        ('["127.0.0.1:8004"]', f'["127.0.0.1:{o.hub_port + 4}"]'),  # the data-quality monitor
    ]:
        if old not in text:
            raise InstallError(
                f"{MONITORING / 'prometheus.yml'} no longer holds {old!r}: update"
                " prometheus_config() in deploy/single-server/install.py with it"
            )
        text = text.replace(old, new)
    return text


def ensure_owner(path: Path, user: str) -> bool:
    """``path`` owned by ``user`` (and its group); True if changed. "" leaves it."""
    if not user:
        return False
    entry = pwd.getpwnam(user)
    st = path.stat()
    if (st.st_uid, st.st_gid) == (entry.pw_uid, entry.pw_gid):
        return False
    os.chown(path, entry.pw_uid, entry.pw_gid)
    return True


def ensure_monitoring(o: Options, r: Report) -> None:
    """With --monitoring: Prometheus and Alertmanager configured for this site."""
    if not o.monitoring:
        return
    missing = [exe for exe in ("prometheus", "prometheus-alertmanager") if not shutil.which(exe)]
    if missing:
        raise InstallError(
            f"{' and '.join(missing)} not found: apt-get install prometheus"
            " prometheus-alertmanager, then run again"
        )
    user = prometheus_user()
    etc, data = o.etc / "prometheus", o.prefix / "var" / "lib" / "prometheus"
    changed = False
    for d in (data / "tsdb", data / "alertmanager"):
        if not d.is_dir():
            d.mkdir(parents=True, mode=0o700)
            changed = True
        changed |= ensure_owner(d, user)
    for rules in sorted((MONITORING / "rules").glob("*.rules.yml")):  # (not their tests)
        changed |= write_file(etc / "rules" / rules.name, rules.read_text())
    token = etc / "rarehub-hub-token"
    if not token.exists():  # made once: Prometheus and the hub read the same file
        write_file(token, secrets.token_hex(32) + "\n", 0o600)
        changed = True
    elif token.stat().st_mode & 0o7777 != 0o600:
        token.chmod(0o600)
        changed = True
    changed |= ensure_owner(token, user)
    changed |= write_file(
        o.state_dir / "jupyterhub_config.d" / "20-prometheus.py",
        render("20-prometheus.py.in", {"TOKEN_FILE": str(token)}),
        0o600,
    )
    config = prometheus_config(o, token)
    if write_file(etc / "prometheus.yml", config):
        changed = True
        if shutil.which("promtool"):
            run(["promtool", "check", "config", str(etc / "prometheus.yml")])
    routing = etc / "alertmanager.yml"
    if not routing.exists():
        write_file(routing, (MONITORING / "alertmanager.yml").read_text())
        changed = True
    r.notes.append(
        f"alert receivers: edit {routing} (the e-mail and webhook addresses are examples);"
        " the installer never overwrites it"
    )
    r.notes.append(
        "disk alerts need the storage monitor: set monitors.catalog in"
        f" {o.etc / 'rarehub' / 'site.yaml'} (until then Prometheus finds its target down)"
    )
    r.step("monitoring", changed)


def monitoring_script_values(o: Options) -> dict[str, str]:
    """rarehub-services' Prometheus and Alertmanager: bash arrays, empty without
    --monitoring (started as the prometheus user by ``setpriv``, which execs: the pid
    file holds the service itself)."""
    if not o.monitoring:
        return {"PROMETHEUS_CMD": "", "ALERTMANAGER_CMD": ""}
    user = prometheus_user()
    drop = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups"] if user else []
    return {
        f"{name.upper()}_CMD": " ".join(shlex.quote(w) for w in [*drop, *cmd])
        for name, cmd in monitoring_commands(o).items()
    }


def ensure_scripts(o: Options, r: Report) -> None:
    values = {
        "PREFIX": str(o.prefix),
        "VENV": str(o.venv),
        "STATE_DIR": str(o.state_dir),
        "SITE": str(o.etc / "rarehub" / "site.yaml"),
        "HUB_PORT": str(o.hub_port),
        "CATALOG": str(o.catalog or ""),
        "KEEP": str(o.backup_keep),
        "DB_URL_FILE": str(o.etc / "rarehub" / "db_url") if o.db_url_file else "",
        **monitoring_script_values(o),
    }
    changed = write_file(
        o.prefix / "bin" / "rarehub-backup", render("rarehub-backup", values), 0o755
    )
    changed |= write_file(
        o.prefix / "bin" / "rarehub-services", render("rarehub-services", values), 0o755
    )
    r.step("scripts", changed)


def ensure_systemd_units(o: Options, r: Report) -> None:
    """Units are always written; installed and enabled only where systemd runs."""
    values = {
        "PREFIX": str(o.prefix),
        "VENV": str(o.venv),
        "SITE": str(o.etc / "rarehub" / "site.yaml"),
        "STATE_DIR": str(o.state_dir),
    }
    units = {}
    for name in (
        "rarehub-hub.service",
        "rarehub-nginx.service",
        "rarehub-backup.service",
        "rarehub-backup.timer",
    ):
        units[name] = render(name, values)
    if o.monitoring:
        user = prometheus_user()
        for name, cmd in monitoring_commands(o).items():
            units[f"rarehub-{name}.service"] = render(
                f"rarehub-{name}.service",
                {
                    "USER_LINE": f"User={user}" if user else "# (the installing user)",
                    f"{name.upper()}_CMD": shlex.join(cmd),
                },
            )
    changed = False
    for name, text in units.items():
        changed |= write_file(o.etc / "systemd" / name, text)
    r.step("systemd-units", changed)
    if not systemd_running():
        r.notes.append(
            "systemd is not running here (container or CI machine): units written to "
            f"{o.etc / 'systemd'} but not enabled; start the services with "
            f"{o.prefix / 'bin' / 'rarehub-services'} start"
        )
        return
    if not o.systemd:
        r.notes.append("systemd runs: add --systemd to install and enable the units")
        return
    installed = False
    for name, text in units.items():
        installed |= write_file(Path("/etc/systemd/system") / name, text)
    if installed:
        run(["systemctl", "daemon-reload"])
    monitoring = ["rarehub-prometheus.service", "rarehub-alertmanager.service"]
    run(
        [
            "systemctl",
            "enable",
            "--now",
            "rarehub-hub.service",
            "rarehub-nginx.service",
            "rarehub-backup.timer",
            *(monitoring if o.monitoring else []),
        ]
    )
    r.step("systemd-enable", installed)


STEPS = [
    ensure_layout,
    ensure_hub_env,
    ensure_proxy,
    ensure_site_config,
    ensure_database,
    ensure_postgres_role,
    ensure_tls,
    ensure_nginx_config,
    ensure_monitoring,
    ensure_scripts,
    ensure_systemd_units,
]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="install.py",
        description="Install or update RareHub on one server (idempotent; run it again "
        "after changing an option or pulling a new version).",
    )
    p.add_argument(
        "--prefix",
        type=Path,
        default=Path("/opt/rarehub-site"),
        help="where everything goes (default /opt/rarehub-site)",
    )
    p.add_argument("--server-name", default="localhost", help="public host name (TLS, nginx)")
    p.add_argument(
        "--hub-port",
        type=int,
        default=8000,
        help="hub proxy port on 127.0.0.1; the hub uses PORT..PORT+2",
    )
    p.add_argument(
        "--https-listen",
        default="127.0.0.1:8443",
        help="nginx TLS address:port (public servers: 0.0.0.0:443)",
    )
    p.add_argument(
        "--http-listen",
        default="",
        help="optional address:port redirecting http to https (e.g. 0.0.0.0:80)",
    )
    p.add_argument("--auth", choices=["pam", "shared-password"], default="pam")
    p.add_argument("--admin-user", dest="admin_users", action="append", default=[])
    p.add_argument(
        "--db-url-file",
        type=Path,
        help="file holding a postgresql:// URL: the hub database (default SQLite)",
    )
    p.add_argument(
        "--postgres-socket-dir",
        type=Path,
        help="create the URL's role and database over this unix socket folder",
    )
    p.add_argument("--postgres-port", type=int, default=5432)
    p.add_argument("--postgres-admin", default="postgres", help="the PostgreSQL superuser")
    tls = p.add_mutually_exclusive_group()
    tls.add_argument(
        "--tls-self-signed",
        action="store_true",
        help="make an example CA and a server certificate (not for production)",
    )
    tls.add_argument("--tls-cert", type=Path, help="server certificate (PEM, full chain)")
    p.add_argument("--tls-key", type=Path, help="server key (PEM) for --tls-cert")
    p.add_argument("--catalog", type=Path, help="catalog SQLite file to back up")
    p.add_argument("--backup-keep", type=int, default=14, help="backups kept (default 14)")
    p.add_argument(
        "--systemd", action="store_true", help="where systemd runs: install and enable the units"
    )
    p.add_argument("--uv", help="the uv executable (default: found or bootstrapped)")
    p.add_argument(
        "--monitoring",
        action="store_true",
        help="also Prometheus and Alertmanager (Debian's) with deploy/monitoring's rules",
    )
    p.add_argument("--prometheus-listen", default="127.0.0.1:9090", help="Prometheus' address:port")
    p.add_argument(
        "--alertmanager-listen", default="127.0.0.1:9093", help="Alertmanager's address:port"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    o = Options(
        prefix=a.prefix.resolve(),
        server_name=a.server_name,
        hub_port=a.hub_port,
        https_listen=a.https_listen,
        http_listen=a.http_listen,
        auth=a.auth,
        admin_users=a.admin_users,
        db_url_file=a.db_url_file,
        tls_self_signed=a.tls_self_signed,
        tls_cert=a.tls_cert,
        tls_key=a.tls_key,
        catalog=a.catalog,
        backup_keep=a.backup_keep,
        systemd=a.systemd,
        uv=a.uv,
        postgres_socket_dir=a.postgres_socket_dir,
        postgres_port=a.postgres_port,
        postgres_admin=a.postgres_admin,
        monitoring=a.monitoring,
        prometheus_listen=a.prometheus_listen,
        alertmanager_listen=a.alertmanager_listen,
    )
    r = Report()
    try:
        for step in STEPS:
            step(o, r)
    except InstallError as e:
        say(f"error: {e}")
        return 1
    for note in r.notes:
        say(f"note: {note}")
    report = json.dumps({"changed": r.changed, "unchanged": r.unchanged, "notes": r.notes})
    write_file(o.prefix / "var" / "lib" / "rarehub-install" / "last-report.json", report + "\n")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
