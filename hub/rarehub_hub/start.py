"""``rarehub-hub start-local``: start the embedded default hub in the foreground.

Prepares the state folder (secrets, demo password, demo data), then replaces itself with
JupyterHub. Ctrl-C reaches JupyterHub directly, which stops the proxy and every server.
A second start reuses the state folder: same database, password and data.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from .reconcile import cancel_orphaned_jobs
from .site import load_site, validate_site

ENV_STATE = "RAREHUB_STATE_DIR"
ENV_IP = "RAREHUB_IP"
ENV_PORT = "RAREHUB_PORT"
ENV_PROXY = "RAREHUB_PROXY_COMMAND"
ENV_PASSWORD = "RAREHUB_PASSWORD"
ENV_SITE = "RAREHUB_SITE_CONFIG"
MIN_PASSWORD = 8


def ensure_password(state_dir: Path, given: str | None) -> str:
    """The demo password: ``given`` if set, else the one stored in the state folder,
    else a new random one (stored with mode 600)."""
    path = state_dir / "demo-password"
    if given:
        if len(given) < MIN_PASSWORD:
            raise SystemExit(
                f"{ENV_PASSWORD} is {len(given)} characters long: use at least {MIN_PASSWORD}"
            )
        return given
    if path.exists():
        return path.read_text().strip()
    password = secrets.token_urlsafe(12)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    tmp.replace(path)
    return password


def ensure_demo_data(data_dir: Path, prefix: Path) -> None:
    """Generate the tiny demo experiments once, with the ``rarehub`` command of ``prefix``.

    The hub side never imports analysis_lib; it runs its command line, as a batch job would.
    """
    marker = data_dir / ".complete"
    if marker.exists():
        return
    print(f"[rarehub] generating demo data in {data_dir} …", file=sys.stderr, flush=True)
    subprocess.run(
        [str(prefix / "bin" / "rarehub"), "demo", "--size", "tiny", "--out", str(data_dir)],
        check=True,
    )
    marker.touch()


def site_from_environment() -> dict:
    """The validated site: the YAML named by $RAREHUB_SITE_CONFIG, else the local site that
    ``start-local`` described through RAREHUB_* variables (validated by the same schema)."""
    if os.environ.get(ENV_SITE):
        return load_site(Path(os.environ[ENV_SITE]))
    return validate_site(
        {
            "deployment": "local",
            "state_dir": os.environ[ENV_STATE],
            "hub": {
                "ip": os.environ[ENV_IP],
                "port": int(os.environ[ENV_PORT]),
                "proxy_command": os.environ[ENV_PROXY],
            },
            "auth": {"type": "shared-password", "shared_password": os.environ[ENV_PASSWORD]},
            # the demo data's catalog, shown by the storage and data-quality monitors
            "monitors": {"catalog": str(Path(os.environ[ENV_STATE]) / "data" / "catalog.sqlite")},
        },
        source="rarehub-hub start-local",
    )


def start_site(config: Path) -> None:
    """Validate the site YAML ``config``, prepare its state folder and exec JupyterHub."""
    site = load_site(config)
    state_dir = Path(site["state_dir"]).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    state_dir.chmod(0o700)
    (state_dir / "jupyterhub_config.d").mkdir(exist_ok=True)
    if site["auth"]["type"] == "shared-password" and not site["auth"].get("shared_password"):
        ensure_password(state_dir, None)  # random, kept there: configure() reads it
        print(
            f"  The shared password is in {state_dir / 'demo-password'}",
            file=sys.stderr,
            flush=True,
        )
    cancel_orphaned_jobs(site)
    env = dict(os.environ, **{ENV_SITE: str(config.resolve())})
    print(
        f"  RareHub ({site['deployment']}) is starting at "
        f"http://{site['hub']['ip']}:{site['hub']['port']}/",
        file=sys.stderr,
        flush=True,
    )
    _exec_hub(state_dir, env)


def _exec_hub(state_dir: Path, env: dict) -> None:
    config = Path(__file__).with_name("jupyterhub_config.py")
    os.chdir(state_dir)
    argv = [str(Path(sys.prefix) / "bin" / "jupyterhub"), "-f", str(config)]
    # Started in the background (`cmd &`, nohup, a CI runner), the hub inherits SIGINT and
    # SIGQUIT *ignored*, and every service it starts would too (an ignored disposition
    # survives fork and exec). JupyterHub stops services with SIGINT and waits 10 s before
    # SIGTERM, so each one then held up the shutdown — or outlived a hub killed meanwhile.
    # The hub installs its own handlers; its children get the defaults back.
    for sig in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)
    os.execve(argv[0], argv, env)


def start_local(state_dir: Path, ip: str, port: int, proxy: str) -> None:
    """Prepare ``state_dir`` and exec JupyterHub (does not return)."""
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    state_dir.chmod(0o700)
    (state_dir / "jupyterhub_config.d").mkdir(exist_ok=True)
    password = ensure_password(state_dir, os.environ.get(ENV_PASSWORD))
    prefix = Path(sys.prefix)
    ensure_demo_data(state_dir / "data", prefix)

    env = dict(os.environ)
    env.update(
        {
            ENV_STATE: str(state_dir),
            ENV_IP: ip,
            ENV_PORT: str(port),
            ENV_PROXY: proxy,
            ENV_PASSWORD: password,
        }
    )
    url = f"http://{'127.0.0.1' if ip in ('', '0.0.0.0') else ip}:{port}/"
    print(
        "\n"
        f"  RareHub is starting at {url}\n"
        f"  Log in with any user name (e.g. 'demo') and the password: {password}\n"
        f"  (stored in {state_dir / 'demo-password'}; set {ENV_PASSWORD} to choose one)\n"
        "  Press Ctrl-C to stop the hub, the proxy and every server.\n",
        file=sys.stderr,
        flush=True,
    )
    env.pop(ENV_SITE, None)
    _exec_hub(state_dir, env)
