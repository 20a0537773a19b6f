"""``rarehub-hub``: the hub administrator's command."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from . import __version__
from .start import start_local, start_site


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rarehub-hub",
        description="Run and administer the RareHub JupyterHub.",
    )
    parser.add_argument("--version", action="version", version=f"rarehub-hub {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    local = sub.add_parser(
        "start-local",
        help="start the embedded default hub (local processes, SQLite) in the foreground",
        description=(
            "Start JupyterHub with the local process spawner, SQLite and "
            "configurable-http-proxy on loopback. Demo data and the tutorials are prepared "
            "on first start and reused afterwards. Ctrl-C stops everything."
        ),
    )
    local.add_argument(
        "--state-dir",
        type=Path,
        default=Path(os.environ.get("RAREHUB_STATE_DIR", ".rarehub")),
        help="folder for the hub database, secrets, homes and demo data "
        "(default: $RAREHUB_STATE_DIR or ./.rarehub)",
    )
    local.add_argument(
        "--ip",
        default=os.environ.get("RAREHUB_IP", "127.0.0.1"),
        help="address the hub listens on (default: 127.0.0.1, loopback only)",
    )
    local.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("RAREHUB_PORT", "8000")),
        help="public port; the hub API uses PORT+1, the proxy API PORT+2, the storage and "
        "data-quality monitors PORT+3 and PORT+4 (default 8000)",
    )
    local.add_argument(
        "--proxy",
        default="configurable-http-proxy",
        help="the configurable-http-proxy executable",
    )
    start = sub.add_parser(
        "start",
        help="start the hub described by a site YAML (local or slurm) in the foreground",
        description="Validate the site YAML against the schema, then start JupyterHub with it.",
    )
    start.add_argument("--config", type=Path, required=True, help="the site YAML")
    check = sub.add_parser(
        "check-config", help="validate a site YAML and print it with the defaults filled in"
    )
    check.add_argument("config", type=Path)
    sub.add_parser("schema", help="print the site YAML's JSON schema")
    status = sub.add_parser(
        "status", help="show users, their servers, Slurm jobs and states (hub up or down)"
    )
    status.add_argument("--config", type=Path, required=True, help="the site YAML")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "start-local":
        start_local(args.state_dir, args.ip, args.port, args.proxy)
        return
    from .site import SiteError, load_site, schema_json

    if args.command == "schema":
        print(schema_json())
        return
    try:
        if args.command == "start":
            start_site(args.config)
        elif args.command == "status":
            from .status import collect, format_rows

            print(format_rows(collect(load_site(args.config))))
        elif args.command == "check-config":
            print(json.dumps(load_site(args.config), indent=2))
    except (SiteError, OSError) as e:
        raise SystemExit(f"rarehub-hub: {e}") from None
