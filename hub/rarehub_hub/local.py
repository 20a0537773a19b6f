"""The embedded default: one machine, local processes, SQLite, configurable-http-proxy.

``configure_local`` maps a :class:`LocalSite` onto a JupyterHub traitlets config ``c``.
It only *sets* values ("config should never append or mutate, only set", TLJH).
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

#: Jupyter config of the local servers: JupyterLab's news (announcements) plugin disabled.
LAB_OFFLINE_CONFIG = Path(__file__).resolve().parent / "jupyter" / "lab-offline"


@dataclass(frozen=True)
class LocalSite:
    """Everything the local deployment needs to know.

    Attributes
    ----------
    state_dir
        Folder for the hub database, secrets, users' homes and demo data.
    ip, port
        Where the public proxy listens (loopback by default). The hub API uses ``port + 1``
        and the proxy's REST API ``port + 2``.
    proxy_command
        Path of the ``configurable-http-proxy`` executable.
    password
        The shared demo password (at least 8 characters).
    prefix
        The Python environment whose ``jupyterhub-singleuser`` the servers run.
    idle_timeout_s
        Servers idle for longer than this many seconds are stopped by the idle culler.
    catalog
        Catalog the storage and data-quality monitors show — a SQLite file, or a
        ``postgresql://USER@HOST/DB`` URL without password — served as hub services
        ``/services/storage-monitor/`` and ``/services/dq-monitor/`` (on 127.0.0.1, ports
        ``port + 3`` and ``port + 4``) to every logged-in user; None: no monitors.
    catalog_pgpass
        libpq password file the monitors log in to a catalog server with (their
        ``PGPASSFILE``), so no password is ever in their command line.
    monitor_origins
        ``HOST[:PORT]`` the users' browsers reach the hub at (the monitors' websocket checks
        the page's origin); empty: ``ip:port``.
    results
        Root folder of stored processing results: the storage monitor is started with
        ``--results`` and shows and exports the lifecycle plan; None: no plan.
    """

    state_dir: Path
    ip: str
    port: int
    proxy_command: str
    password: str
    prefix: Path = Path(sys.prefix)
    idle_timeout_s: int = 3600
    catalog: Path | str | None = None
    catalog_pgpass: Path | None = None
    monitor_origins: tuple[str, ...] = ()
    results: Path | None = None

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def homes_dir(self) -> Path:
        return self.state_dir / "home"

    @property
    def tutorials_dir(self) -> Path:
        return self.prefix / "share" / "rarehub" / "tutorials"


def deliver_tutorials(tutorials: Path, home: Path, data_dir: Path | None) -> list[Path]:
    """Copy the tutorials into ``home/tutorials`` where missing and link ``home/data``
    to ``data_dir`` (unless None).

    A user's edited copy is never overwritten: only files that do not exist are copied.
    Returns the files copied.
    """
    copied = []
    target = home / "tutorials"
    target.mkdir(parents=True, exist_ok=True)
    if tutorials.is_dir():
        for src in sorted(tutorials.rglob("*")):
            dst = target / src.relative_to(tutorials)
            if src.is_dir():
                dst.mkdir(exist_ok=True)
            elif not dst.exists():
                shutil.copy2(src, dst)
                copied.append(dst)
    link = home / "data"
    if data_dir is not None and not link.exists() and not link.is_symlink():
        link.symlink_to(data_dir, target_is_directory=True)
    return copied


def configure_local(c, site: LocalSite, unix_accounts: bool = False) -> None:
    """Set the JupyterHub configuration ``c`` for the local deployment ``site``.

    ``unix_accounts`` (PAM or LDAP logins): each server runs as the logged-in unix user in
    their own home (``LocalProcessSpawner``, the hub as root), never as root (``root`` cannot
    log in), and copies the tutorials itself, as the user. Otherwise (the shared-password
    demo) every server is a process of the hub's own user in ``state_dir/home/NAME``, with
    ``--allow-root`` when that user is root: a one-person demo.
    """
    state = site.state_dir
    bin_dir = site.prefix / "bin"

    c.JupyterHub.bind_url = f"http://{site.ip}:{site.port}"
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{site.port + 1}"
    c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
    c.JupyterHub.cleanup_servers = True

    c.ConfigurableHTTPProxy.command = [site.proxy_command]
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{site.port + 2}"
    c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")

    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = site.password
    c.Authenticator.allow_all = True
    # Any name with the password: a name is also a folder under state_dir/home, so no dots
    # or slashes that could lead out of it.
    c.Authenticator.username_pattern = r"^[a-z0-9][a-z0-9_-]{0,63}$"

    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = str(site.homes_dir / "{username}")
    c.Spawner.ip = "127.0.0.1"
    c.Spawner.cmd = [str(bin_dir / "jupyterhub-singleuser")]
    c.Spawner.default_url = "/lab/tree/tutorials/00-welcome.ipynb"
    # Ctrl-C must stop everything promptly: SIGINT, then SIGTERM, then SIGKILL after 3 s
    # each (the idle-culler service ignores SIGINT and would hold shutdown for 30 s).
    c.LocalProcessSpawner.interrupt_timeout = 3
    c.LocalProcessSpawner.term_timeout = 3
    c.Spawner.start_timeout = 120
    c.Spawner.http_timeout = 120
    # Root may run the one-person demo; JupyterLab refuses root unless told.
    c.Spawner.args = ["--allow-root"] if os.geteuid() == 0 and not unix_accounts else []
    c.Spawner.environment = {
        "RAREHUB_DATA": str(site.data_dir),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        # JupyterLab's news prompt ("get notified about official Jupyter news?") is off: it
        # would fetch from the internet, and offline hubs should not ask (the image does the
        # same in /etc/jupyter/labconfig)
        "JUPYTER_CONFIG_PATH": os.pathsep.join(
            [str(LAB_OFFLINE_CONFIG), *filter(None, [os.environ.get("JUPYTER_CONFIG_PATH")])]
        ),
    }

    if unix_accounts:
        # Servers run as the user (setuid by LocalProcessSpawner): the launcher copies the
        # tutorials as that user — the hub (root) never writes into a user's home.
        c.JupyterHub.spawner_class = "localprocess"
        c.Spawner.cmd = [
            str(bin_dir / "python"),
            "-m",
            "rarehub_hub.singleuser",
            "--local",
            "--",
            str(bin_dir / "jupyterhub-singleuser"),
        ]
        c.Authenticator.blocked_users = {"root"}
    else:

        def pre_spawn_hook(spawner):
            home = Path(spawner.home_dir_template.format(username=spawner.user.name))
            deliver_tutorials(site.tutorials_dir, home, site.data_dir)

        c.Spawner.pre_spawn_hook = pre_spawn_hook

    roles = [
        {
            "name": "idle-culler",
            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
            "services": ["idle-culler"],
        }
    ]
    services = [
        {
            "name": "idle-culler",
            "command": [
                str(bin_dir / "python"),
                "-m",
                "jupyterhub_idle_culler",
                f"--timeout={site.idle_timeout_s}",
            ],
        }
    ]
    if site.catalog is not None:
        monitors = monitor_services(site, bin_dir)
        services += monitors
        # Every logged-in user may open the monitors (the default "user" role plus access).
        access = [f"access:services!service={m['name']}" for m in monitors]
        roles.append({"name": "user", "scopes": ["self", *access]})
    c.JupyterHub.load_roles = roles
    c.JupyterHub.services = services


MONITORS = {"storage-monitor": ("storage", 3), "dq-monitor": ("dq", 4)}  # name: (app, port+)


def monitor_services(site: LocalSite, bin_dir: Path) -> list[dict]:
    """The storage and data-quality monitors as managed hub services behind the hub login.

    Each runs ``rarehub monitor APP`` on 127.0.0.1 at ``site.port + offset`` with the hub's
    OAuth login (:mod:`rarehub_hub.monitor_auth`); its ``/metrics`` stays on loopback.
    """
    auth_module = Path(__file__).with_name("monitor_auth.py")
    origins = site.monitor_origins or (
        f"{'127.0.0.1' if site.ip in ('', '0.0.0.0') else site.ip}:{site.port}",
    )
    # Signs the monitors' OAuth cookies; a new one per hub start only means a new login.
    cookie_secret = secrets.token_hex(32)
    services = []
    for name, (app, offset) in MONITORS.items():
        port = site.port + offset
        prefix = f"/services/{name}"
        services.append(
            {
                "name": name,
                "url": f"http://127.0.0.1:{port}",
                "command": [
                    str(bin_dir / "rarehub"),
                    "monitor",
                    app,
                    "--catalog",
                    str(site.catalog),
                    "--port",
                    str(port),
                    "--address",
                    "127.0.0.1",
                    "--prefix",
                    prefix,
                    "--auth-module",
                    str(auth_module),
                    *(a for origin in origins for a in ("--allow-websocket-origin", origin)),
                    *(
                        ["--results", str(site.results)]
                        if app == "storage" and site.results is not None
                        else []
                    ),
                ],
                "environment": {
                    "BOKEH_COOKIE_SECRET": cookie_secret,
                    **({"PGPASSFILE": str(site.catalog_pgpass)} if site.catalog_pgpass else {}),
                },
                "oauth_no_confirm": True,
                "oauth_redirect_uri": f"{prefix}/login",
                "display": True,
            }
        )
    return services
