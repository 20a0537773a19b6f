"""``rarehub monitor``: serve the Panel apps (event browser, data quality, storage).

Examples::

    rarehub monitor storage --catalog demo-data/catalog.sqlite --port 5006
    rarehub monitor dq --catalog demo-data/catalog.sqlite --port 5007 \\
        --prefix /services/dq-monitor --allow-websocket-origin hub.example.org

The server binds 127.0.0.1 unless ``--address`` says otherwise. The storage and
data-quality monitors also answer ``GET <prefix>/metrics`` with Prometheus text (not behind
the login: bind them to loopback and let Prometheus scrape them there). With ``--results
ROOT`` the storage monitor also shows the lifecycle plan of the stored processing results
under ROOT (``rarehub storage plan``) and exports its bytes.

Login: ``--auth-module FILE`` names a Bokeh auth module (a Python file defining
``get_user(request_handler)`` and ``login_url`` or ``get_login_url``, optionally a
``LoginHandler``; see Bokeh's "Authentication" docs). Run as a JupyterHub service, the hub
side supplies one that checks the hub's OAuth cookie, so the apps are refused without a hub
login; analysis_lib itself knows nothing of the hub.
"""

from __future__ import annotations

import argparse
from pathlib import Path

APPS = {
    "events": ("analysis_lib.apps.event_browser", "RareHub events"),
    "dq": ("analysis_lib.apps.dq_monitor", "RareHub data quality"),
    "storage": ("analysis_lib.apps.storage_monitor", "RareHub storage"),
}


def catalog_target(text: str) -> str | Path:
    """``--catalog``: a server URL without password, or a path."""
    from analysis_lib.catalog.connect import catalog_argument

    return catalog_argument(text)


def _absolute(catalog: str | Path) -> str | Path:
    return catalog.absolute() if isinstance(catalog, Path) else catalog


def run_monitor(args: argparse.Namespace) -> None:
    import importlib
    import threading

    import panel as pn

    from .storage import Thresholds

    if isinstance(args.catalog, Path) and not args.catalog.is_file():
        raise SystemExit(f"rarehub monitor: no catalog database at {args.catalog}")
    module_name, title = APPS[args.app]
    extra_patterns = []
    kwargs = {}
    extra = {}
    if args.app == "storage":
        try:
            thresholds = Thresholds(
                warn_used_fraction=args.warn_used,
                critical_used_fraction=args.critical_used,
                warn_days_to_full=args.warn_days,
                critical_days_to_full=args.critical_days,
                window_days=args.window_days,
            )
        except ValueError as e:
            raise SystemExit(f"rarehub monitor storage: {e}") from None
        kwargs["thresholds"] = thresholds
        if args.results is not None:
            if not args.results.is_dir():
                raise SystemExit(f"rarehub monitor storage: no results folder at {args.results}")
            kwargs["results"] = args.results.absolute()
            kwargs["older_than_days"] = args.older_than_days
        from .storage_metrics import MetricsHandler

        extra_patterns.append(
            (
                r"/metrics",
                MetricsHandler,
                {
                    "catalog_path": _absolute(args.catalog),
                    "thresholds": thresholds,
                    "results": kwargs.get("results"),
                    "older_than_days": args.older_than_days,
                },
            )
        )
    if args.app == "dq":
        from .dq_metrics import DQMetricsHandler

        extra_patterns.append(
            (r"/metrics", DQMetricsHandler, {"catalog_path": _absolute(args.catalog)})
        )
    if args.auth_module is not None:
        if not args.auth_module.is_file():
            raise SystemExit(f"rarehub monitor: no auth module at {args.auth_module}")
        from bokeh.server.auth_provider import AuthModule

        extra["auth_provider"] = AuthModule(str(args.auth_module))
    origins = args.allow_websocket_origin or [f"{args.address}:{args.port}"]
    catalog = _absolute(args.catalog)

    def factory():  # a plain function: Panel calls it once per browser session
        return importlib.import_module(module_name).create_app(catalog, **kwargs)

    print(
        f"rarehub monitor {args.app}: http://{args.address}:{args.port}{args.prefix or ''}/",
        flush=True,
    )
    # The app's module (HoloViews, hvplot: ~2 s) is imported after the server listens, in
    # the background: the hub, which starts its services one after the other and waits for
    # each to answer, is up that much sooner, and the first visitor finds it loaded.
    server = pn.serve(
        {"/": factory},
        port=args.port,
        address=args.address,
        websocket_origin=origins,
        show=False,
        title=title,
        prefix=args.prefix or "",
        extra_patterns=extra_patterns,
        verbose=False,
        start=False,
        **extra,
    )
    threading.Thread(
        target=importlib.import_module, args=(module_name,), name="import-app", daemon=True
    ).start()
    server.start()
    server.io_loop.start()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "monitor",
        help="serve a Panel app: event browser, data-quality or storage monitor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("app", choices=sorted(APPS), help="which app to serve")
    p.add_argument(
        "--catalog",
        type=catalog_target,
        required=True,
        help="catalog: a SQLite file or a postgresql://USER@HOST/DB URL (password in"
        " ~/.pgpass or PGPASSFILE, never here)",
    )
    p.add_argument("--address", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=5006, help="port (default 5006)")
    p.add_argument(
        "--prefix", default="", help="URL prefix, e.g. a JupyterHub service's /services/NAME"
    )
    p.add_argument(
        "--allow-websocket-origin",
        action="append",
        metavar="HOST[:PORT]",
        help="origins allowed to open the app's websocket (default ADDRESS:PORT); repeatable",
    )
    p.add_argument(
        "--auth-module",
        type=Path,
        metavar="FILE",
        help="Bokeh auth module (get_user, login_url …) guarding the app, e.g. hub login",
    )
    g = p.add_argument_group("storage alerts (storage app only)")
    g.add_argument("--warn-used", type=float, default=0.80, help="used fraction: warning")
    g.add_argument("--critical-used", type=float, default=0.95, help="used fraction: critical")
    g.add_argument("--warn-days", type=float, default=30.0, help="days to full: warning")
    g.add_argument("--critical-days", type=float, default=7.0, help="days to full: critical")
    g.add_argument("--window-days", type=int, default=14, help="fill-rate window in days")
    g.add_argument(
        "--results",
        type=Path,
        metavar="ROOT",
        help="root folder of stored processing results: show and export the lifecycle plan",
    )
    g.add_argument(
        "--older-than-days",
        type=float,
        default=30.0,
        help="age (days) from which rebuildable results are deletion candidates (30)",
    )
    p.set_defaults(func=run_monitor)
