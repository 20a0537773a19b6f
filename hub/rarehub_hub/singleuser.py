"""The Slurm job's entry point: pick a port, tell the hub, start ``jupyterhub-singleuser``.

``python -m rarehub_hub.singleuser --ip auto --port-range 9000-9099 -- CMD ARGS…``

Like ``batchspawner-singleuser`` but (a) the server binds the address the admin configured
(batchspawner ignores ``SlurmSpawner.ip`` and binds 0.0.0.0), (b) the port comes from a
configured range (firewalled nodes, batchspawner #102), and (c) the address the hub should
route to is reported with the port, (d) the server gets the walltime endpoint and the
lab the walltime warning (:mod:`rarehub_hub.walltime`, batchspawner #120), and (e) the
server starts in this process, without an import it does not need (:func:`run_server`).
Runs inside the image/environment; imports only the standard library before the server
(a spawn waits for every import here), never the hub's configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import ssl
import sys
import urllib.error
import urllib.request
from collections.abc import MutableMapping
from pathlib import Path
from urllib.parse import urlparse, urlunparse

WILDCARD = {"", "0.0.0.0", "::"}
#: ``--ip auto``: the node's address on the network that reaches the hub.
AUTO = "auto"


def address_towards(host: str, port: int) -> str:
    """The local address this node would use to reach ``host:port``.

    The kernel picks the source address of the route to ``host`` when a UDP socket is
    connected; no packet is sent. On a cluster that is the node's address on the network
    the hub (on the login node) is on — the address the hub and its proxy can connect back
    to. With the hub on loopback (one machine) it is 127.0.0.1.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError as e:
        raise SystemExit(
            f"rarehub singleuser: --ip auto: cannot resolve the hub {host}: {e}"
        ) from None
    family, _, _, _, sockaddr = infos[0]
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        try:
            s.connect(sockaddr)
        except OSError as e:
            raise SystemExit(
                f"rarehub singleuser: --ip auto: no route from this node to the hub {host}: {e}"
            ) from None
        return s.getsockname()[0]


def resolve_ip(ip: str, api_url: str) -> str:
    """The address to bind: ``ip`` itself, or for ``auto`` :func:`address_towards` the host
    of the hub API URL ``api_url`` (``JUPYTERHUB_API_URL``)."""
    if ip != AUTO:
        return ip
    url = urlparse(api_url)
    if not url.hostname:
        raise SystemExit(f"rarehub singleuser: --ip auto: no hub host in {api_url!r}")
    return address_towards(url.hostname, url.port or (443 if url.scheme == "https" else 80))


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


def hub_ssl_context() -> ssl.SSLContext | None:
    """The TLS context for an https hub API (JupyterHub's internal SSL variables), else None."""
    if not os.environ.get("JUPYTERHUB_API_URL", "").startswith("https:"):
        return None
    ctx = ssl.create_default_context(cafile=os.environ.get("JUPYTERHUB_SSL_CLIENT_CA") or None)
    cert = os.environ.get("JUPYTERHUB_SSL_CERTFILE")
    key = os.environ.get("JUPYTERHUB_SSL_KEYFILE")
    if cert and key:
        ctx.load_cert_chain(cert, key)
    return ctx


def report_to_hub(port: int, reported_ip: str) -> None:
    """POST the port and address to the hub's ``/batchspawner`` API (what batchspawner's
    ``batchspawner-singleuser`` does), with the standard library only: importing requests and
    jupyterhub here cost ~1–2 s of every spawn. Direct, never through an HTTP proxy."""
    api_url = os.environ.get("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api")
    request = urllib.request.Request(
        api_url.rstrip("/") + "/batchspawner",
        data=json.dumps({"port": port, "reported_ip": reported_ip}).encode(),
        headers={
            "Authorization": f"token {os.environ.get('JUPYTERHUB_API_TOKEN', '')}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=hub_ssl_context())
    )
    try:
        with opener.open(request, timeout=30) as response:
            response.read()
    except urllib.error.HTTPError as e:
        raise SystemExit(
            f"rarehub singleuser: the hub refused the port report at {request.full_url}: "
            f"HTTP {e.code} {e.reason}"
        ) from None
    except OSError as e:
        raise SystemExit(
            f"rarehub singleuser: cannot reach the hub at {request.full_url}: {e}"
        ) from None


#: Jupyter config and data shipped with this package: the walltime endpoint (a server
#: extension) and the lab extension that warns before the job's walltime ends.
JUPYTER_DIR = Path(__file__).resolve().parent / "jupyter"


def enable_walltime_warning(environ: MutableMapping[str, str] = os.environ) -> None:
    """Put this package's Jupyter config and data first on the server's search paths, so the
    server loads :mod:`rarehub_hub.walltime` and the lab the ``rarehub-walltime-warning``
    extension (only servers started here — Slurm jobs — have a walltime)."""
    for name, sub in (("JUPYTER_CONFIG_PATH", "config"), ("JUPYTER_PATH", "data")):
        paths = [p for p in environ.get(name, "").split(os.pathsep) if p]
        environ[name] = os.pathsep.join([str(JUPYTER_DIR / sub), *paths])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rarehub_hub.singleuser")
    parser.add_argument(
        "--ip",
        default="127.0.0.1",
        help="address the server binds; 'auto': this node's address towards the hub API",
    )
    parser.add_argument("--port-range", default="0-0", help="LOW-HIGH, inclusive; 0-0: any")
    parser.add_argument(
        "--local",
        action="store_true",
        help="a local server (the spawner picked the port): copy the tutorials, start it",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- jupyterhub-singleuser …")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the server command after --")
    if args.local:
        deliver_tutorials_here()
        run_server(command)
    low, _, high = args.port_range.partition("-")
    ip = resolve_ip(args.ip, os.environ.get("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/"))
    port = pick_port(ip, int(low), int(high or low))
    deliver_tutorials_here()

    report_to_hub(port, route_address(ip))
    enable_walltime_warning()

    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:0/"))
    host = "0.0.0.0" if ip in WILDCARD else ip
    os.environ["JUPYTERHUB_SERVICE_URL"] = urlunparse(url._replace(netloc=f"{host}:{port}"))
    print(f"rarehub singleuser: serving on {host}:{port}", file=sys.stderr, flush=True)
    run_server(command)


#: Modules the server is kept from importing. ``rfc3987_syntax``: jsonschema (through
#: jupyter_events, in every Jupyter server) imports it only to check the JSON-schema string
#: formats "iri" and "iri-reference", which none of the server's schemas use, and it compiles
#: an Earley grammar at import — about 1 s of the ~3 s the server needs to start here. Without
#: it those two formats go unchecked (jsonschema's documented fallback for a missing format
#: library). Drop this once rfc3987-syntax builds its parser lazily.
SKIPPED_IMPORTS = ("rfc3987_syntax",)


def run_server(command: list[str]) -> None:
    """Run ``command``; never returns.

    ``jupyterhub-singleuser`` of this very environment runs in this process (no second
    interpreter start, and :data:`SKIPPED_IMPORTS` apply); any other command is exec'd.
    """
    path = shutil.which(command[0])
    same_env = path is not None and Path(path).parent == Path(sys.executable).parent
    if not (same_env and Path(command[0]).name == "jupyterhub-singleuser"):
        os.execvp(command[0], command)
    for name in SKIPPED_IMPORTS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # import → ImportError
    from jupyterhub.singleuser import main as singleuser_main

    sys.argv = [path, *command[1:]]
    sys.exit(singleuser_main())


if __name__ == "__main__":
    main()
