"""``rarehub archiver``: run the EPICS archiver, query its archive, serve a simulated beam IOC.

Examples
--------
    rarehub archiver run --root ./beam-archive --pv BEAM:POWER_MW --pv BEAM:POT_PER_PULSE
    rarehub archiver run --root ./beam-archive --pv-file pvs.txt --metrics-port 9310
    rarehub archiver query --root ./beam-archive --pv BEAM:POWER_MW --start 2026-11-25T20:00
    rarehub archiver gaps --root ./beam-archive --pv BEAM:POWER_MW
    rarehub archiver sim-ioc --extra-pvs 98          # a 60 Hz beam on 127.0.0.1

Channel Access is configured by the usual EPICS environment variables
(``EPICS_CA_ADDR_LIST``, ``EPICS_CA_AUTO_ADDR_LIST``, ``EPICS_CA_SERVER_PORT``; the IOC reads
``EPICS_CAS_*``). On a test machine keep them on loopback (see PLATFORM.md).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path


def _time_arg(text: str | None) -> int | str | None:
    """A --start/--end value: digits are ns since the epoch, anything else an ISO time."""
    if text is None:
        return None
    return int(text) if text.lstrip("-").isdigit() else text


def _pv_list(args: argparse.Namespace) -> list[str]:
    names = list(args.pv or [])
    if args.pv_file is not None:
        try:
            text = args.pv_file.read_text()
        except OSError as e:
            raise SystemExit(f"rarehub archiver: cannot read --pv-file {args.pv_file}: {e}") from e
        names += [ln.split("#")[0].strip() for ln in text.splitlines()]
    names = [n for n in names if n]
    if not names:
        raise SystemExit("rarehub archiver: give PVs with --pv NAME or --pv-file FILE")
    return names


def run_archiver(args: argparse.Namespace) -> None:
    from .archive import BeamArchive
    from .archiver import Archiver

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    archiver = Archiver(
        BeamArchive(args.root), _pv_list(args), flush_interval_s=args.flush_interval_s
    )

    def _stop(signum, frame):
        archiver.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server = None
    if args.metrics_port is not None:
        server = serve_metrics(archiver, args.metrics_address, args.metrics_port)
        host, port = server.server_address[:2]
        print(f"metrics on http://{host}:{port}/metrics", flush=True)
    print(f"archiving {len(archiver.pv_names)} PVs to {args.root}", flush=True)
    try:
        stats = archiver.run(duration_s=args.duration_s)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
    print(
        f"received {stats.received} updates, wrote {stats.written} rows, "
        f"dropped {stats.duplicates} duplicates, recorded {stats.gaps} gaps",
        flush=True,
    )


def serve_metrics(archiver, address: str, port: int):
    """Serve ``GET /metrics`` (:meth:`Archiver.metrics_text`) from a daemon thread.

    Returns the running :class:`http.server.ThreadingHTTPServer` (``shutdown()`` stops it).
    """
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from ..io.prometheus_text import CONTENT_TYPE

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404, "only /metrics is served here")
                return
            body = archiver.metrics_text().encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # one line per scrape would drown the archiver's log
            pass

    try:
        server = ThreadingHTTPServer((address, port), Handler)
    except OSError as e:
        raise SystemExit(
            f"rarehub archiver: cannot serve metrics on {address}:{port}: {e}"
        ) from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


def run_query(args: argparse.Namespace) -> None:
    from .archive import BeamArchive

    arch = BeamArchive(args.root)
    pvs = args.pv or arch.pvs()
    df = arch.query(
        pvs[0] if len(pvs) == 1 else pvs, start=_time_arg(args.start), end=_time_arg(args.end)
    )
    if args.out is None:
        df.to_csv(sys.stdout, index=False)
        return
    from ..io.atomic import atomic_path

    with atomic_path(args.out) as tmp:  # no half-written export if interrupted
        if args.out.suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)
    print(f"wrote {len(df)} rows to {args.out}")


def run_gaps(args: argparse.Namespace) -> None:
    from .archive import BeamArchive

    arch = BeamArchive(args.root)
    print("pv,start_ns,end_ns,duration_s,reason")
    for pv in args.pv or arch.pvs():
        for g in arch.gaps(pv, start=_time_arg(args.start), end=_time_arg(args.end)):
            print(f"{pv},{g.start_ns},{g.end_ns},{(g.end_ns - g.start_ns) / 1e9:.3f},{g.reason}")


def run_sim(args: argparse.Namespace) -> None:
    from .sim_ioc import run_sim_ioc

    run_sim_ioc(
        args.prefix,
        n_extra=args.extra_pvs,
        rate_Hz=args.rate_hz,
        trip_every_s=args.trip_every_s,
        seed=args.seed,
    )


def register(sub: argparse._SubParsersAction) -> None:
    from .sim_ioc import add_arguments as add_sim_arguments

    p = sub.add_parser(
        "archiver",
        help="archive EPICS PVs (beam, slow control) to Parquet and query them",
        description=__doc__.splitlines()[0],
    )
    cmds = p.add_subparsers(dest="archiver_command", required=True, metavar="ACTION")

    run = cmds.add_parser("run", help="subscribe to PVs and archive them until stopped")
    run.add_argument("--root", type=Path, required=True, help="archive folder")
    run.add_argument("--pv", action="append", help="a PV name (repeat for more)")
    run.add_argument("--pv-file", type=Path, help="a file with one PV name per line")
    run.add_argument(
        "--flush-interval-s", type=float, default=1.0, help="seconds between flushes (1.0)"
    )
    run.add_argument("--duration-s", type=float, help="stop after this many seconds")
    run.add_argument(
        "--metrics-port",
        type=int,
        help="serve Prometheus metrics on this port at /metrics (0: any free port)",
    )
    run.add_argument(
        "--metrics-address", default="127.0.0.1", help="address for --metrics-port (127.0.0.1)"
    )
    run.set_defaults(func=run_archiver)

    for name, func, what in (
        ("query", run_query, "print or save samples of PVs in a time range"),
        ("gaps", run_gaps, "list recorded gaps"),
    ):
        q = cmds.add_parser(name, help=what)
        q.add_argument("--root", type=Path, required=True, help="archive folder")
        q.add_argument("--pv", action="append", help="a PV name (repeat; default: all)")
        q.add_argument("--start", help="from (ISO time UTC, or ns since epoch)")
        q.add_argument("--end", help="to, exclusive (ISO time UTC, or ns since epoch)")
        if name == "query":
            q.add_argument("--out", type=Path, help="write .csv or .parquet instead of stdout")
        q.set_defaults(func=func)

    sim = cmds.add_parser("sim-ioc", help="serve a simulated 60 Hz beam IOC on 127.0.0.1")
    add_sim_arguments(sim)
    sim.set_defaults(func=run_sim)
