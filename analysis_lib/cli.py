"""``rarehub``: the analysis command line, the same on a laptop, in the lab and in batch jobs.

Examples
--------
    rarehub demo --size tiny --out ./demo-data   # generate the demo experiments
    rarehub --version
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import __version__

DEMO_SPILLS = {"tiny": 200_000, "small": 2_000_000, "medium": 20_000_000}


def _cmd_demo(args: argparse.Namespace) -> None:
    from .demo import generate_csi_events

    out: Path = args.out
    (out / "coherent").mkdir(parents=True, exist_ok=True)
    events = generate_csi_events(n_spills=DEMO_SPILLS[args.size], seed=args.seed)
    target = out / "coherent" / "csi_events.parquet"
    tmp = target.with_suffix(".parquet.tmp")
    events.to_parquet(tmp, index=False)
    tmp.replace(target)  # atomic: never a half-written file
    print(f"wrote {len(events)} events to {target}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rarehub",
        description="RareHub analysis tools: demo data, catalog, processing, releases.",
        epilog="Run 'rarehub COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"rarehub {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="generate the synthetic demo experiments",
        description="Generate deterministic, physically plausible demo data.",
    )
    demo.add_argument("--out", type=Path, required=True, help="output folder")
    demo.add_argument(
        "--size",
        choices=sorted(DEMO_SPILLS),
        default="tiny",
        help="tiny for tests (seconds), larger for benchmarks",
    )
    demo.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)
