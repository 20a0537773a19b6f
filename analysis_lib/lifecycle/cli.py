"""``rarehub storage``: what lineage can rebuild, and freeing it.

Examples::

    rarehub storage plan --catalog demo/catalog.sqlite --results results
    rarehub storage plan --catalog demo/catalog.sqlite --results results --details
    rarehub storage free --catalog demo/catalog.sqlite --results results \\
        --rebuildable --older-than 30d            # dry run: lists what would go
    rarehub storage free … --rebuildable --older-than 30d --yes   # deletes, records each

A stored result is rebuildable when its lineage JSON is intact, every step it names runs at
the recorded version, its input files are catalogued with intact checksums, today's catalog
gives the same lineage, and the image it was made in is known. Raw data never is. Each
deletion is recorded in the catalog (``rarehub catalog`` / ``Catalog.deletions()``) with the
``rarehub process`` command that rebuilds it.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ..catalog.connect import catalog_argument

_UNITS_DAYS = {"d": 1.0, "w": 7.0, "h": 1 / 24}


def parse_age(text: str) -> float:
    """``30d``, ``2w``, ``12h`` or a plain number of days → days."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dwh]?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(
            f"--older-than {text!r}: give a number of days, or e.g. 30d, 2w, 12h"
        )
    return float(m.group(1)) * _UNITS_DAYS.get(m.group(2) or "d")


def _plan(args: argparse.Namespace) -> None:
    import pandas as pd

    from .plan import human_bytes, plan_headline, plan_storage, summarize_plan

    plan = plan_storage(args.catalog, args.results, verify_checksums=not args.no_verify)
    summary = summarize_plan(plan, older_than_days=args.older_than)
    table = summary.assign(
        bytes=summary["bytes"].map(human_bytes),
        rebuildable=summary["rebuildable_bytes"].map(human_bytes),
        older=summary["rebuildable_old_bytes"].map(human_bytes),
        cpu_h=(summary["candidate_cpu_seconds"] / 3600).round(2),
    )[["dataset", "level", "n", "bytes", "rebuildable", "older", "candidates", "cpu_h"]]
    table = table.rename(columns={"older": f"rebuildable>{args.older_than:g}d"})
    with pd.option_context("display.width", 200, "display.max_rows", None):
        print(table.to_string(index=False))
    print(plan_headline(summary, older_than_days=args.older_than))
    if args.details:
        print()
        for r in plan.itertuples():
            if r.level == "raw":
                continue
            verdict = "rebuildable" if r.rebuildable else f"NOT rebuildable: {r.reason}"
            age = f"{r.age_days:.1f} d" if r.state == "stored" else r.state
            print(f"{r.path}  {human_bytes(r.bytes)}  {age}  {verdict}")
            if r.rebuild_command:
                print(f"    rebuild: {r.rebuild_command}")


def _free(args: argparse.Namespace) -> None:
    from .plan import free_results, human_bytes

    if not args.rebuildable:
        sys.exit("rarehub storage free: only rebuildable results can be freed; say --rebuildable")
    done = free_results(
        args.catalog,
        args.results,
        older_than_days=args.older_than,
        dry_run=not args.yes,
        verify_checksums=not args.no_verify,
    )
    verb = "deleted" if args.yes else "would delete"
    for r in done.itertuples():
        if args.yes and not r.deleted:
            print(f"skipped {r.path} (changed since it was planned)")
            continue
        print(f"{verb} {r.path} ({human_bytes(r.bytes)}, {r.age_days:.0f} d old)")
        print(f"    rebuild: {r.rebuild_command}")
    n = int(done["deleted"].sum()) if args.yes else len(done)
    total = float(done.loc[done["deleted"], "bytes"].sum() if args.yes else done["bytes"].sum())
    print(f"{verb} {n} result(s), {human_bytes(total)}", end="")
    print("; recorded in the catalog" if args.yes else " (dry run: add --yes to delete)")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--catalog",
        type=catalog_argument,
        required=True,
        help="the catalog: a SQLite file or a postgresql:// URL (password in ~/.pgpass)",
    )
    p.add_argument(
        "--results",
        type=Path,
        required=True,
        help="root folder of stored results (rarehub process --storage)",
    )
    p.add_argument(
        "--older-than",
        type=parse_age,
        default=30.0,
        metavar="AGE",
        help="age since last modification: 30d (default), 2w, 12h",
    )
    p.add_argument(
        "--no-verify",
        action="store_true",
        help="trust the catalog's last verification of unmodified inputs instead of "
        "re-hashing them",
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "storage",
        help="lifecycle plan of stored results: what lineage can rebuild; free it",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmds = p.add_subparsers(dest="storage_command", required=True, metavar="ACTION")
    plan = cmds.add_parser("plan", help="bytes, age, access, CPU time and rebuildability")
    _common(plan)
    plan.add_argument("--details", action="store_true", help="one line per result, with why")
    plan.set_defaults(func=_wrap(_plan))
    free = cmds.add_parser("free", help="delete rebuildable results older than --older-than")
    _common(free)
    free.add_argument(
        "--rebuildable", action="store_true", help="required: only rebuildable results go"
    )
    free.add_argument("--yes", action="store_true", help="delete (default: a dry run)")
    free.set_defaults(func=_wrap(_free))


def _wrap(func):
    def run(args: argparse.Namespace) -> None:
        from ..catalog.store import CatalogError

        try:
            func(args)
        except (FileNotFoundError, CatalogError) as e:
            sys.exit(f"rarehub storage {args.storage_command}: {e}")

    return run
