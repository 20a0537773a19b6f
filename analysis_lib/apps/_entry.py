"""Arguments of an app served as a script by ``panel serve APP.py --args ...`` (private)."""

from __future__ import annotations

import argparse


def script_args(argv: list[str], description: str) -> argparse.Namespace:
    """Parse the ``--args`` that ``panel serve`` hands to an app script in ``sys.argv``."""
    parser = argparse.ArgumentParser(prog="panel serve … --args", description=description)
    from .cli import catalog_target

    parser.add_argument(
        "--catalog", type=catalog_target, required=True, help="catalog: a file or a URL"
    )
    return parser.parse_args(argv)
