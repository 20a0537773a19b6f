"""``rarehub``: the analysis command line, the same on a laptop, in the lab and in batch jobs.

Each room of the library that has commands keeps them in its own ``cli.py`` with a
``register(subparsers)`` function; this module only assembles them. Handlers import
their heavy dependencies lazily so that ``rarehub --help`` stays fast.

Examples::

    rarehub demo --size tiny --out ./demo-data   # generate the demo experiments
    rarehub --version
"""

from __future__ import annotations

import argparse
import importlib

from . import __version__

# Modules with a ``register(subparsers)`` function, in the order --help lists them.
COMMAND_MODULES = [
    "analysis_lib.demo.cli",
    "analysis_lib.catalog.cli",
    "analysis_lib.ingest.cli",
    "analysis_lib.steps.cli",
    "analysis_lib.beam.cli",
    "analysis_lib.apps.cli",
    "analysis_lib.lifecycle.cli",
    "analysis_lib.release.cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rarehub",
        description="RareHub analysis tools: demo data, catalog, processing, releases.",
        epilog="Run 'rarehub COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"rarehub {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)
