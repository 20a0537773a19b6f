"""``rarehub ingest``: register DAQ files (SuperCDMS MIDAS ``.mid``/``.mid.gz``) in a catalog.

Examples::

    rarehub ingest --db data/catalog.sqlite run_F0001.mid.gz run_F0002.mid.gz
    rarehub ingest --db data/catalog.sqlite --dataset tf-2023 --detector Det01 FILE.mid.gz
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..catalog.connect import catalog_argument


def _ingest(args) -> None:
    from . import IngestError, ingest_midas

    failed = 0
    for path in args.files:
        try:
            out = ingest_midas(
                path,
                catalog=args.db,
                dataset=args.dataset,
                detector=args.detector,
                run_type=args.run_type,
                run_number=args.run,
            )
        except IngestError as e:
            print(f"rarehub ingest: {e}", file=sys.stderr)
            failed += 1
            continue
        print(json.dumps({"file": str(path), **out}))
    if failed:
        sys.exit(1)


def register(sub: argparse._SubParsersAction) -> None:
    from ..catalog.constants import RUN_TYPES

    p = sub.add_parser(
        "ingest",
        help="validate DAQ files (MIDAS .mid/.mid.gz) and register their runs in a catalog",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument(
        "--db",
        required=True,
        type=catalog_argument,
        help="the catalog: a SQLite file (created if new) or a postgresql:// URL",
    )
    p.add_argument("--dataset", default="supercdms", help="dataset name (default: supercdms)")
    p.add_argument("--detector", help="detector name (default: the ODB's detectors)")
    p.add_argument(
        "--run-type",
        choices=RUN_TYPES,
        help="default: noise if every trigger is random, else physics",
    )
    p.add_argument("--run", type=int, help="run number (default: from the file)")
    p.set_defaults(func=_ingest)
