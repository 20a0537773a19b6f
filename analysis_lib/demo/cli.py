"""``rarehub demo``: generate the synthetic demo experiments."""

from __future__ import annotations

import argparse
from pathlib import Path

DEMO_SPILLS = {"tiny": 200_000, "small": 2_000_000, "medium": 20_000_000}


def run_demo(args: argparse.Namespace) -> None:
    from .coherent import generate_csi_events

    out: Path = args.out
    (out / "coherent").mkdir(parents=True, exist_ok=True)
    events = generate_csi_events(n_spills=DEMO_SPILLS[args.size], seed=args.seed)
    target = out / "coherent" / "csi_events.parquet"
    tmp = target.with_suffix(".parquet.tmp")
    events.to_parquet(tmp, index=False)
    tmp.replace(target)  # atomic: never a half-written file
    print(f"wrote {len(events)} events to {target}")


def register(sub: argparse._SubParsersAction) -> None:
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
    demo.set_defaults(func=run_demo)
