"""``rarehub catalog``: scan, add, flag, list, query, show, verify, snapshot and migrate.

Examples::

    rarehub catalog --db data/catalog.sqlite list runs
    rarehub catalog --db data/catalog.sqlite query --detector ge1 --run-type physics \\
        --quality good --start 2026-01-01 --end 2026-02-01 --out good-runs.yaml
    rarehub catalog --db data/catalog.sqlite verify
    rarehub catalog --db postgresql://reader@db.example.org/rarehub \\
        --snapshot /cvmfs/exp/catalog.sqlite list runs
    rarehub catalog --db data/catalog.sqlite migrate --to postgresql://admin@db/rarehub

Which catalog: ``--db`` (a SQLite path or a ``postgresql://`` URL without password), else
``--db-url-file FILE``, else the environment (``RAREHUB_CATALOG_URL_FILE``, then
``RAREHUB_CATALOG_URL``), else ``./catalog.sqlite``. Passwords live in ``~/.pgpass``
(``PGPASSFILE``) or in a URL file only its owner reads — a command line is visible to every
user of the machine, so a URL with a password there is refused.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def _target(args) -> str | Path:
    """The catalog to open, from the options and the environment (see the module docstring)."""
    from .connect import ENV_URL, ENV_URL_FILE, has_password, is_server_url, read_url_file
    from .store import CatalogError

    if args.db is not None:
        if is_server_url(args.db):
            if has_password(args.db):
                raise CatalogError(
                    "--db: a password in a command line is visible to every user of this"
                    " machine; put it in ~/.pgpass (or PGPASSFILE) or in a URL file readable"
                    " only by you (--db-url-file)"
                )
            return args.db
        return Path(args.db)
    if args.db_url_file is not None:
        return read_url_file(args.db_url_file)
    if os.environ.get(ENV_URL_FILE):
        return read_url_file(os.environ[ENV_URL_FILE])
    if os.environ.get(ENV_URL):
        return os.environ[ENV_URL]
    return Path("catalog.sqlite")


def _open(args, create: bool = False, readonly: bool = False):
    import warnings

    from .connect import is_server_url
    from .store import Catalog, CatalogFallbackWarning, CatalogMovedWarning

    target = _target(args)
    new = create and not is_server_url(target) and not Path(target).exists()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CatalogFallbackWarning)
        warnings.simplefilter("always", CatalogMovedWarning)
        cat = Catalog.open(target, create=create, readonly=readonly, snapshot=args.snapshot)
    for w in caught:  # a fallback to a snapshot (with its age), a file moved to a server
        print(f"rarehub catalog: warning: {w.message}", file=sys.stderr)
    if new:
        print(f"rarehub catalog: created a new, empty catalog at {cat.path}", file=sys.stderr)
    return cat


def _print(df, columns=None) -> None:
    import pandas as pd

    if columns:
        df = df[[c for c in columns if c in df.columns]]
    if df.empty:
        print("(none)")
        return
    with pd.option_context("display.max_rows", 500, "display.width", 200):
        print(df.to_string(index=False))


def _scan(args) -> None:
    with _open(args, create=True) as cat:
        added = cat.scan(
            args.directory,
            dataset=args.dataset,
            run_type=args.run_type,
            detector=args.detector,
            pattern=args.pattern,
        )
        print(f"added {len(added)} file(s), {int(added['size_bytes'].sum())} bytes")


def _provenance(args) -> dict:
    """Simulation provenance options → add_dataset keywords."""
    import yaml

    out = {}
    if args.generator:
        out["generator"] = args.generator
        out["generator_version"] = args.generator_version
        if args.generator_config:
            try:
                out["generator_config"] = yaml.safe_load(args.generator_config.read_text())
            except (OSError, yaml.YAMLError) as e:
                from .store import CatalogError

                raise CatalogError(f"--generator-config {args.generator_config}: {e}") from None
    return out


def _add(args) -> None:
    from .store import sha256_file

    # Hash before the transaction opens: other writers wait for its inserts, never for
    # these reads (a file that cannot be read is reported by add_file, by name).
    digests = {}
    for f in args.files:
        try:
            digests[f] = sha256_file(f) if f.is_file() else None
        except OSError:
            digests[f] = None
    with _open(args, create=True) as cat, cat.transaction():
        cat.add_dataset(args.dataset, detector=args.detector, **_provenance(args))
        if (
            args.run is not None
            and cat.runs(dataset=args.dataset).query("run_number == @args.run").empty
        ):
            cat.add_run(args.dataset, args.run, run_type=args.run_type, detector=args.detector)
        for f in args.files:
            cat.add_file(
                f, dataset=args.dataset, run=args.run, format=args.format, sha256=digests[f]
            )
    print(f"added {len(args.files)} file(s) to {args.dataset}")


def _flag(args) -> None:
    with _open(args) as cat:
        cat.set_quality(args.dataset, args.run, args.quality, args.flag)
    print(f"run {args.run} of {args.dataset}: quality {args.quality}, flags {args.flag}")


# Columns shown by ``rarehub catalog list WHAT`` (``growth`` shows all of its columns).
_LIST_COLUMNS = {
    "datasets": [
        *("dataset", "detector", "simulated", "generator"),
        *("n_runs", "n_files", "size_bytes"),
    ],
    "runs": [
        *("dataset", "run_number", "detector", "run_type"),
        *("start_utc", "end_utc", "quality", "n_files"),
    ],
    "files": ["dataset", "run_number", "format", "size_bytes", "path"],
}


def _list(args) -> None:
    with _open(args, readonly=True) as cat:
        if args.what == "datasets":
            table = cat.datasets()
        elif args.what == "runs":
            table = cat.runs(dataset=args.dataset)
        elif args.what == "files":
            table = cat.files(dataset=args.dataset)
        else:
            table = cat.growth(dataset=args.dataset)
        _print(table, _LIST_COLUMNS.get(args.what))


def _query(args) -> None:
    from .runlists import write_runlist

    with _open(args, readonly=True) as cat:
        runs = cat.runs(
            dataset=args.dataset,
            detector=args.detector,
            run_type=args.run_type,
            quality=args.quality,
            start=args.start,
            end=args.end,
            runlist=args.runlist,
        )
    if args.out:
        write_runlist(runs, args.out)
        print(f"wrote {len(runs)} run(s) to {args.out}")
    else:
        _print(
            runs,
            [
                "dataset",
                "run_number",
                "detector",
                "run_type",
                "start_utc",
                "end_utc",
                "quality",
                "n_files",
            ],
        )


def _show(args) -> None:
    with _open(args, readonly=True) as cat:
        target = args.target
        if Path(target).exists():
            record = cat.file(target)
        else:
            ds = cat.datasets()
            hit = ds[ds["dataset"] == target]
            if hit.empty:
                from .store import CatalogError

                raise CatalogError(f"{target!r} is neither a catalogued file nor a dataset")
            record = hit.iloc[0].to_dict()
            record["runs"] = cat.runs(dataset=target)["run_number"].tolist()
    print(json.dumps(record, indent=2, default=str))


def _verify(args) -> None:
    with _open(args) as cat:
        result = cat.verify(dataset=args.dataset)
    bad = result[result["status"] != "ok"]
    print(f"verified {len(result)} file(s): {len(result) - len(bad)} ok, {len(bad)} bad")
    if len(bad):
        _print(bad, ["status", "path", "expected_size_bytes", "actual_size_bytes"])
        sys.exit(1)


def _init(args) -> None:
    with _open(args, create=True) as cat:
        print(f"catalog {cat.path}: schema version {cat.meta()['schema_version']} ({cat.backend})")


def _to_target(args) -> str | Path:
    from .connect import has_password, is_server_url, read_url_file
    from .store import CatalogError

    if args.to_url_file is not None:
        return read_url_file(args.to_url_file)
    if args.to is None:
        raise CatalogError("migrate: give --to URL_OR_PATH or --to-url-file FILE")
    if is_server_url(args.to):
        if has_password(args.to):
            raise CatalogError(
                "--to: a password in a command line is visible to every user of this machine;"
                " put it in ~/.pgpass (or PGPASSFILE) or use --to-url-file"
            )
        return args.to
    return Path(args.to)


def _migrate(args) -> None:
    from .copying import migrate, unmark_moved

    if args.unmark:
        if args.to is not None or args.to_url_file is not None or args.force:
            from .store import CatalogError

            raise CatalogError("migrate --unmark takes no --to, --to-url-file or --force")
        with _open(args) as src:
            moved = unmark_moved(src)
        if moved is None:
            print(f"{src.path} was not marked moved; nothing to do")
        else:
            print(
                f"{src.path} takes writes again (it was marked moved to {moved['moved_to']} on"
                f" {moved['moved_utc']}); what is written here now does not reach that server"
            )
        return
    target = _to_target(args)
    with _open(args) as src:
        report = migrate(src, target, force=args.force)
    counts = ", ".join(f"{n} {t}" for t, n in report["counts"].items())
    moved_to = report.get("moved_to")
    print(f"copied {counts} into {moved_to or _shown(target)}")
    print(f"checksums intact: files digest {report['files_sha256_digest']} on both sides")
    if moved_to:
        print(
            f"{src.path} is marked moved to {moved_to} ({report['moved_utc']}): it still reads,"
            " but refuses writes; point jobs and notebooks at the new catalog"
        )


def _shown(target) -> str:
    from .connect import redact

    return redact(str(target))


def _snapshot(args) -> None:
    from .copying import snapshot, snapshot_rotated
    from .store import CatalogError

    rotate = args.to.is_dir()
    if args.keep is not None and not rotate:
        raise CatalogError(f"snapshot --keep: --to {args.to} must be a folder (for rotation)")
    with _open(args, readonly=True) as src:
        if rotate:
            report = snapshot_rotated(src, args.to, keep=7 if args.keep is None else args.keep)
        else:
            report = snapshot(src, args.to)
    print(
        f"snapshot {report.get('path', args.to)} taken {report['snapshot_utc']}:"
        f" {report['counts'].get('files', 0)} files, read-only"
    )
    if rotate:
        print(f"{report['latest']} now points to it; removed {len(report['removed'])} older")


def _roles(args) -> None:
    from .roles import grant_roles

    with _open(args) as cat:
        for line in grant_roles(cat, readers=args.reader, writers=args.writer):
            print(line)


def run_catalog(args: argparse.Namespace) -> None:
    from .store import CatalogError

    try:
        args.action(args)
    except CatalogError as e:
        print(f"rarehub catalog: error: {e}", file=sys.stderr)
        sys.exit(2)


def register(sub: argparse._SubParsersAction) -> None:
    from .constants import QUALITIES, RUN_TYPES

    p = sub.add_parser(
        "catalog",
        help="the data catalog: scan, add, flag, list, query, show, verify, snapshot, migrate",
        description="Datasets, runs and files with checksums, run types and data quality.",
    )
    p.add_argument(
        "--db",
        help="catalog: a SQLite file or a postgresql://USER@HOST[:PORT]/DB URL, password in"
        " ~/.pgpass (default: $RAREHUB_CATALOG_URL_FILE, $RAREHUB_CATALOG_URL, ./catalog.sqlite)",
    )
    p.add_argument(
        "--db-url-file",
        type=Path,
        help="read the catalog URL from this file (mode 600 if it holds a password)",
    )
    p.add_argument(
        "--snapshot",
        type=Path,
        help="a snapshot (catalog snapshot --to) to read when the server cannot be reached",
    )
    p.set_defaults(func=run_catalog)
    cmds = p.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")

    s = cmds.add_parser("scan", help="register every new file under a directory")
    s.add_argument("directory", type=Path)
    s.add_argument("--dataset", required=True)
    s.add_argument("--detector")
    s.add_argument("--run-type", default="physics", choices=RUN_TYPES)
    s.add_argument("--pattern", default="**/*", help="glob below DIRECTORY (default **/*)")
    s.set_defaults(action=_scan)

    a = cmds.add_parser("add", help="register files (size and SHA-256 measured)")
    a.add_argument("files", nargs="+", type=Path)
    a.add_argument("--dataset", required=True)
    a.add_argument("--detector")
    a.add_argument("--run", type=int, help="run number (created if new)")
    a.add_argument("--run-type", default="physics", choices=RUN_TYPES)
    a.add_argument("--format", help="file format (default: from the suffix)")
    a.add_argument("--generator", help="simulated data: the generator (e.g. Geant4, NEST)")
    a.add_argument("--generator-version", help="simulated data: the generator's version")
    a.add_argument(
        "--generator-config",
        type=Path,
        help="simulated data: the generator's configuration (YAML/JSON file)",
    )
    a.set_defaults(action=_add)

    f = cmds.add_parser("flag", help="set a run's data quality and flags")
    f.add_argument("--dataset", required=True)
    f.add_argument("--run", type=int, required=True)
    f.add_argument("--quality", required=True, choices=QUALITIES)
    f.add_argument("--flag", action="append", default=[], help="a DQ flag (repeatable)")
    f.set_defaults(action=_flag)

    l_ = cmds.add_parser("list", help="list datasets, runs, files or growth")
    l_.add_argument("what", choices=["datasets", "runs", "files", "growth"])
    l_.add_argument("--dataset")
    l_.set_defaults(action=_list)

    q = cmds.add_parser("query", help="select runs; print them or write a run list")
    q.add_argument("--dataset")
    q.add_argument("--detector")
    q.add_argument("--run-type", choices=RUN_TYPES)
    q.add_argument("--quality", choices=QUALITIES)
    q.add_argument("--start", help="UTC time; runs ending after it")
    q.add_argument("--end", help="UTC time; runs starting before it")
    q.add_argument("--runlist", type=Path, help="keep only runs in this CSV/YAML run list")
    q.add_argument("--out", type=Path, help="write a run list (.csv/.yaml) instead of printing")
    q.set_defaults(action=_query)

    sh = cmds.add_parser("show", help="show one file or dataset as JSON")
    sh.add_argument("target", help="a file path or a dataset name")
    sh.set_defaults(action=_show)

    v = cmds.add_parser("verify", help="re-check sizes and checksums (exit 1 on problems)")
    v.add_argument("--dataset")
    v.set_defaults(action=_verify)

    i = cmds.add_parser("init", help="create the catalog, or upgrade it to the current schema")
    i.set_defaults(action=_init)

    m = cmds.add_parser(
        "migrate",
        help="copy this catalog into an empty server database (checksums verified); a SQLite"
        " file is then marked moved: it reads, with a warning, and refuses writes",
    )
    m.add_argument("--to", help="postgresql://USER@HOST[:PORT]/DB (password in ~/.pgpass)")
    m.add_argument("--to-url-file", type=Path, help="read the target URL from this file")
    m.add_argument(
        "--force",
        action="store_true",
        help="copy a SQLite catalog already marked moved again (e.g. the first server was lost)",
    )
    m.add_argument(
        "--unmark",
        action="store_true",
        help="make a SQLite catalog marked moved writable again (its new writes stay here)",
    )
    m.set_defaults(action=_migrate)

    sn = cmds.add_parser("snapshot", help="write a read-only, timestamped SQLite copy")
    sn.add_argument(
        "--to",
        type=Path,
        required=True,
        help="the snapshot file (FILE.sqlite), or a folder: then catalog-<UTC time>.sqlite"
        " in it, catalog-latest.sqlite pointing to the newest, the newest --keep kept",
    )
    sn.add_argument(
        "--keep",
        type=int,
        help="with a folder: how many timestamped snapshots to keep (default 7)",
    )
    sn.set_defaults(action=_snapshot)

    r = cmds.add_parser("roles", help="PostgreSQL: grant read-only and writer roles")
    r.add_argument("--reader", action="append", default=[], help="read-only role (repeatable)")
    r.add_argument("--writer", action="append", default=[], help="writer role (repeatable)")
    r.set_defaults(action=_roles)
