"""``rarehub release``: freeze a data release bundle, verify one.

Examples
--------
    rarehub release freeze --spec release.yaml --out releases/ge-2026-v1
    rarehub release verify releases/ge-2026-v1
    rarehub release verify releases/ge-2026-v1 --in-image            # the recorded image
    rarehub release verify releases/ge-2026-v1 --in-image localhost/rarehub:1.0 --user 5000:5000
    rarehub release verify releases/ge-2026-v1 --container "podman run --rm \\
        -v {bundle}:{bundle}:ro -v {out}:{out} {image}"

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

    if args.container and args.in_image is not None:
        raise SystemExit("rarehub release verify: give --container or --in-image, not both")
    container = shlex.split(args.container) if args.container else None
    if args.in_image is not None:
        container = podman_prefix(args.in_image or "{image}", user=args.user, network=args.network)
    report = verify(
        args.bundle, rerun=not args.no_rerun, notebooks=not args.no_notebooks, container=container
    )
    if args.verbose and report.rerun_output:
        print("re-run output:\n" + report.rerun_output.rstrip())
    for p in report.problems:
        print(p)
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
    v = cmds.add_parser("verify", help="check checksums, re-run and compare")
    v.add_argument("bundle", type=Path)
    v.add_argument("--no-rerun", action="store_true", help="skip the pipeline re-run")
    v.add_argument("--no-notebooks", action="store_true", help="skip notebook re-execution")
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
        help="re-run inside the image with podman (read-only root and bundle, no network); "
        "default: the image recorded in the bundle",
    )
    v.add_argument("--user", help="UID:GID in the image (--in-image; default: yours)")
    v.add_argument("--network", default="none", help="podman network for --in-image (none, host)")
    v.add_argument("--verbose", action="store_true", help="print what the re-run printed")
    v.set_defaults(func=run_verify)
