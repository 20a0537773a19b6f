"""The Slurm job's entry point: pick a port, tell the hub, exec ``jupyterhub-singleuser``.

``python -m rarehub_hub.singleuser --ip 127.0.0.1 --port-range 9000-9099 -- CMD ARGS…``

Like ``batchspawner-singleuser`` but (a) the server binds the address the admin configured
(batchspawner ignores ``SlurmSpawner.ip`` and binds 0.0.0.0), (b) the port comes from a
configured range (firewalled nodes, batchspawner #102), and (c) the address the hub should
route to is reported with the port. Runs inside the image/environment; imports only
JupyterHub's service helpers and requests, never the hub's configuration.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import sys
from urllib.parse import urlparse, urlunparse

WILDCARD = {"", "0.0.0.0", "::"}


def pick_port(ip: str, low: int, high: int, attempts: int = 200) -> int:
    """A port in ``low..high`` (inclusive) free on ``ip``; 0..0 means any free port."""
    bind_ip = "" if ip in WILDCARD else ip
    if low == 0:
        with socket.socket() as s:
            s.bind((bind_ip, 0))
            return s.getsockname()[1]
    candidates = list(range(low, high + 1))
    random.shuffle(candidates)
    for port in candidates[:attempts]:
        with socket.socket() as s:
            try:
                s.bind((bind_ip, port))
            except OSError:
                continue
            return port
    raise SystemExit(f"rarehub singleuser: no free port in {low}-{high} on {ip or '*'}")


def route_address(ip: str) -> str:
    """What the hub should connect to: the bound address, or '' (the node's name) if wildcard."""
    return "" if ip in WILDCARD else ip


def deliver_tutorials_here() -> None:
    """Copy the image's tutorials into ``$HOME/tutorials`` where missing (never overwrite a
    user's edits), and link ``$HOME/data`` to ``$RAREHUB_DATA`` if that exists here."""
    from pathlib import Path

    from .local import deliver_tutorials

    home = Path(os.environ.get("HOME", "."))
    source = Path(sys.prefix) / "share" / "rarehub" / "tutorials"
    data: Path | None = Path(os.environ.get("RAREHUB_DATA", "/nonexistent"))
    try:
        if not data.is_dir():
            data = None
    except OSError:  # e.g. the hub's state folder, not readable on the node
        data = None
    try:
        copied = deliver_tutorials(source, home, data)
    except OSError as e:  # a read-only or full home must not stop the server
        print(f"rarehub singleuser: tutorials not delivered: {e}", file=sys.stderr)
        return
    if copied:
        print(f"rarehub singleuser: {len(copied)} tutorial file(s) copied", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rarehub_hub.singleuser")
    parser.add_argument("--ip", default="127.0.0.1", help="address the server binds")
    parser.add_argument("--port-range", default="0-0", help="LOW-HIGH, inclusive; 0-0: any")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- jupyterhub-singleuser …")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the server command after --")
    low, _, high = args.port_range.partition("-")
    port = pick_port(args.ip, int(low), int(high or low))
    deliver_tutorials_here()

    import requests
    from jupyterhub.services.auth import HubAuth
    from jupyterhub.utils import url_path_join

    hub_auth = HubAuth()
    kwargs = {}
    if hub_auth.certfile and hub_auth.keyfile:
        kwargs["cert"] = (hub_auth.certfile, hub_auth.keyfile)
    if hub_auth.client_ca:
        kwargs["verify"] = hub_auth.client_ca
    r = requests.post(
        url_path_join(hub_auth.api_url, "batchspawner"),
        headers={"Authorization": f"token {hub_auth.api_token}"},
        json={"port": port, "reported_ip": route_address(args.ip)},
        timeout=30,
        **kwargs,
    )
    r.raise_for_status()

    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:0/"))
    host = "0.0.0.0" if args.ip in WILDCARD else args.ip
    os.environ["JUPYTERHUB_SERVICE_URL"] = urlunparse(url._replace(netloc=f"{host}:{port}"))
    print(f"rarehub singleuser: serving on {host}:{port}", file=sys.stderr, flush=True)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
