"""``rarehub release``: freeze a data release bundle, verify one.

Examples
--------
    rarehub release freeze --spec release.yaml --out releases/ge-2026-v1
    rarehub release verify releases/ge-2026-v1                   # checksums only, no code
    rarehub release verify releases/ge-2026-v1 --rerun           # in the recorded image
    rarehub release verify releases/ge-2026-v1 --in-image localhost/rarehub:1.0 --user 5000:5000
    rarehub release verify releases/ge-2026-v1 --container "podman run --rm \\
        -v {bundle}:{bundle}:ro -v {out}:{out} {image}"
    rarehub release verify releases/ge-2026-v1 --on-host         # your own bundle, here

The spec file (YAML) has the fields of :class:`analysis_lib.release.bundle.ReleaseSpec`;
paths in it are relative to the spec file.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

_PATH_FIELDS = ("results", "data", "data_refs", "notebooks", "code")


def run_freeze(args: argparse.Namespace) -> None:
    import yaml

    from .bundle import ReleaseSpec, freeze

    try:
        doc = yaml.safe_load(args.spec.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise SystemExit(f"rarehub release freeze: cannot read --spec {args.spec}: {e}") from e
    base = args.spec.parent
    known = set(ReleaseSpec.__dataclass_fields__)
    unknown = set(doc) - known
    if unknown:
        raise SystemExit(
            f"rarehub release freeze: {args.spec}: unknown field(s) {sorted(unknown)}; "
            f"known: {sorted(known)}"
        )
    for f in _PATH_FIELDS:
        doc[f] = [base / p for p in doc.get(f, [])]
    if doc.get("lock_file"):
        doc["lock_file"] = base / doc["lock_file"]
    out = freeze(ReleaseSpec(**doc), args.out)
    print(f"froze release into {out}")


def run_verify(args: argparse.Namespace) -> None:
    from .verify import podman_prefix, verify

    where = [
        name
        for name, given in (
            ("--container", args.container),
            ("--in-image", args.in_image is not None),
            ("--on-host", args.on_host),
        )
        if given
    ]
    if len(where) > 1:
        raise SystemExit(f"rarehub release verify: give one of {', '.join(where)}, not several")
    run_code = bool(args.rerun or where)
    container = None
    if args.container:
        container = shlex.split(args.container)
    elif run_code and not args.on_host:  # the default sandbox: the recorded image
        container = podman_prefix(args.in_image or "{image}", user=args.user, network=args.network)
    report = verify(
        args.bundle,
        rerun=run_code and not args.no_rerun,
        notebooks=run_code and not args.no_notebooks,
        container=container,
    )
    if args.verbose and report.rerun_output:
        print("re-run output:\n" + report.rerun_output.rstrip())
    for p in report.problems:
        print(p)
    if not run_code:
        print("(no code of the bundle was run: --rerun re-makes the results in its image)")
    print(
        f"checked {report.checked_files} files, compared {report.compared_results} results, "
        f"executed {report.executed_notebooks} notebooks: "
        + ("OK" if report.ok else f"{len(report.problems)} problem(s)")
    )

    sys.exit(0 if report.ok else 1)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "release",
        help="freeze or verify a data release bundle",
        description=__doc__.splitlines()[0],
    )
    cmds = p.add_subparsers(dest="release_command", required=True, metavar="ACTION")
    f = cmds.add_parser("freeze", help="write a release bundle")
    f.add_argument("--spec", type=Path, required=True, help="release spec (YAML)")
    f.add_argument("--out", type=Path, required=True, help="bundle folder (must not exist)")
    f.set_defaults(func=run_freeze)
    v = cmds.add_parser(
        "verify",
        help="check checksums; with --rerun re-make the results in the image and compare",
        description="Check the manifest and every checksum (always first: a bundle that "
        "fails them is never executed). Its code and notebooks run only with --rerun (or "
        "--in-image/--container/--on-host), by default inside the recorded image with "
        "podman: no network, read-only root and bundle, an arbitrary UID.",
    )
    v.add_argument("bundle", type=Path)
    v.add_argument(
        "--rerun",
        action="store_true",
        help="re-run the pipeline and the notebooks, in the recorded image (podman sandbox)",
    )
    v.add_argument(
        "--on-host",
        action="store_true",
        help="re-run here, without a sandbox: only for a bundle you trust (your own)",
    )
    v.add_argument("--no-rerun", action="store_true", help="with a re-run: skip the pipeline")
    v.add_argument("--no-notebooks", action="store_true", help="with a re-run: skip the notebooks")
    v.add_argument(
        "--container",
        help="command prefix running the re-run inside the image "
        "({bundle}, {out}, {image} substituted)",
    )
    v.add_argument(
        "--in-image",
        nargs="?",
        const="",
        default=None,
        metavar="IMAGE",
        help="re-run inside IMAGE with podman (read-only root and bundle, no network); "
        "without IMAGE: the image recorded in the bundle (same as --rerun)",
    )
    v.add_argument("--user", help="UID:GID in the image (--in-image; default: yours)")
    v.add_argument("--network", default="none", help="podman network for --in-image (none, host)")
    v.add_argument("--verbose", action="store_true", help="print what the re-run printed")
    v.set_defaults(func=run_verify)
