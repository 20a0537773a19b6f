"""``rarehub process``: run the processing pipeline over catalog runs.

Examples::

    rarehub process --catalog demo/catalog.sqlite --dataset ge-demo --storage results
    rarehub process --catalog demo/catalog.sqlite --dataset ge-demo --run 2 --run 3 \\
        --target of_amplitudes --option of_amplitudes.window_us=50
    rarehub process --catalog demo/catalog.sqlite --dataset ge-demo --run 5 \\
        --option triggers.threshold_sigma=8      # offline trigger on a continuous run
"""

from __future__ import annotations

import argparse
import os
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "process",
        help="run processing steps over catalog runs (lineage-keyed, reused when unchanged)",
        description="Process catalog runs: noise PSD, optimal-filter amplitudes and pulse "
        "features, stored as Parquet under STORAGE/<run>/<step>-<lineage hash>.parquet with "
        "the lineage JSON beside each file. Results whose lineage is unchanged are reused.",
    )
    p.add_argument("--catalog", help="catalog SQLite file (required)")
    p.add_argument("--dataset", help="dataset name in the catalog (required)")
    p.add_argument("--storage", help="root folder of stored results (required)")
    p.add_argument(
        "--run",
        type=int,
        action="append",
        dest="runs",
        help="run number (repeatable; default: all triggered non-noise runs)",
    )
    p.add_argument(
        "--target",
        action="append",
        dest="targets",
        help="step to make (repeatable; default: of_amplitudes and features, and triggers "
        "for continuous-stream runs)",
    )
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="STEP.NAME=VALUE",
        help="set a step option, e.g. of_amplitudes.window_us=50",
    )
    p.add_argument(
        "--dask",
        metavar="N",
        type=int,
        default=0,
        help="process runs in parallel on a local Dask cluster of N threads",
    )
    p.add_argument(
        "--image-digest",
        metavar="sha256:…",
        help="digest of the container image this runs in, recorded in each result's lineage "
        "(default: $RAREHUB_IMAGE_DIGEST); results without one are never freed by "
        "'rarehub storage free', as nothing says where to rebuild them",
    )
    p.add_argument("--list-steps", action="store_true", help="list steps and options, exit")
    p.set_defaults(func=main)


def _parse_options(pairs, steps) -> dict:
    from .core import PipelineError

    by_name = {s.provides: s for s in steps}
    config: dict[str, dict] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        step, dot, name = key.partition(".")
        if not sep or not dot:
            raise PipelineError(f"--option {pair!r}: expected STEP.NAME=VALUE")
        if step not in by_name:
            raise PipelineError(f"--option {pair!r}: no step {step!r}; steps: {sorted(by_name)}")
        opt = by_name[step].options.get(name)
        if opt is None:
            raise PipelineError(
                f"--option {pair!r}: step {step!r} has no option {name!r}; "
                f"options: {sorted(by_name[step].options)}"
            )
        config.setdefault(step, {})[name] = opt.parse(value)
    return config


def main(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from ..catalog.store import Catalog
    from ..io.binary import BinaryDataError
    from .core import Pipeline, PipelineError
    from .pulse_steps import DEFAULT_STEPS
    from .runs import continuous_run_ids, run_inputs_from_catalog

    if args.list_steps:
        for s in DEFAULT_STEPS:
            deps = ", ".join(s.depends_on) or "(source)"
            print(f"{s.provides}  v{s.__version__}  ← {deps}")
            for name, opt in s.options.items():
                print(f"    {name} = {opt.default!r}  ({opt.type.__name__}) {opt.help}")
        return
    missing = [f"--{k}" for k in ("catalog", "dataset", "storage") if not getattr(args, k)]
    if missing:
        sys.exit(f"rarehub process: {', '.join(missing)} required")
    digest = args.image_digest or os.environ.get("RAREHUB_IMAGE_DIGEST", "")
    environment = {"image_digest": digest} if digest else {}
    try:
        config = _parse_options(args.option, DEFAULT_STEPS)
        pipe = Pipeline(DEFAULT_STEPS, config, storage=args.storage, environment=environment)
        for t in args.targets or ():
            pipe._step(t)
        with Catalog.open(args.catalog, create=False) as cat:
            runs = run_inputs_from_catalog(cat, dataset=args.dataset, runs=args.runs)
            continuous = continuous_run_ids(cat, dataset=args.dataset)
    except (PipelineError, FileNotFoundError) as e:
        sys.exit(f"rarehub process: {e}")
    if not runs:
        sys.exit(f"rarehub process: no runs to process in {args.dataset!r}")

    def targets_of(run) -> tuple[str, ...]:
        if args.targets:
            return tuple(args.targets)
        return ("triggers",) if run.run_id in continuous else ("of_amplitudes", "features")

    failures = 0
    if args.dask:
        from .dask_runner import make_on_dask

        results: dict[str, object] = {}
        for targets in sorted({targets_of(r) for r in runs}):
            group = [r for r in runs if targets_of(r) == targets]
            done = make_on_dask(
                DEFAULT_STEPS,
                config,
                args.storage,
                group,
                targets,
                n_workers=args.dask,
                environment=environment,
            )
            results.update({r.run_id: res for r, res in zip(group, done, strict=True)})
        for run in runs:
            res = results[run.run_id]
            if isinstance(res, Exception):
                failures += 1
                print(f"{run.run_id}: FAILED: {res}", file=sys.stderr)
            else:
                for t, path in res.items():
                    print(f"{run.run_id}  {t}  {path}")
    else:
        for run in runs:
            # progress counts events, or samples for continuous-stream runs
            unit = "sample" if run.run_id in continuous else "ev"
            with tqdm(desc=run.run_id, unit=unit, file=sys.stderr, leave=False) as bar:
                try:
                    paths = pipe.make(run, targets_of(run), progress=bar.update)
                except (PipelineError, BinaryDataError, OSError) as e:  # damaged raw file
                    failures += 1
                    print(f"{run.run_id}: FAILED: {e}", file=sys.stderr)
                    continue
            for t, path in paths.items():
                print(f"{run.run_id}  {t}  {path}")
    if failures:
        sys.exit(f"rarehub process: {failures} of {len(runs)} run(s) failed")
