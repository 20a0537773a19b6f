"""``rarehub demo``: generate the two synthetic demo experiments and their catalog.

Layout of the output folder::

    DIR/catalog.sqlite                 datasets → runs → files of everything below
    DIR/ge/raw/run000N_<type>.h5       germanium raw traces (analysis_lib.io.raw)
    DIR/ge/daq/run000N_<type>.bin      the same triggered runs in a binary DAQ format …
    DIR/ge/daq/ge_daq.ksy              … described by this Kaitai-style YAML
    DIR/ge/truth/*.parquet             injected energies and times
    DIR/coherent/csi_events.parquet    CsI events (spill, time_us, energy_PE, beam_on, truth,
                                       time_ns)
    DIR/coherent/beam/                 archived beam PVs (analysis_lib.beam.archive layout)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

DEMO_SPILLS = {"tiny": 200_000, "small": 2_000_000, "medium": 20_000_000}
EXPERIMENTS = ("ge", "coherent")


def _register_ge(cat, runs, size: str, seed: int) -> None:
    from .. import __version__
    from .ge import GE_PARAMETERS, GE_SIZES

    cat.add_dataset(
        "ge-demo",
        detector="ge1",
        description="SuperCDMS-like Ge detector, 4 phonon channels at 625 kHz (synthetic)",
        generator="analysis_lib.demo.ge",
        generator_version=__version__,
        generator_config={
            "size": size,
            "seed": seed,
            **GE_PARAMETERS,
            "sizes": GE_SIZES[size].__dict__,
        },
    )
    ksy = runs[0]["files"][0].parent.parent / "daq" / "ge_daq.ksy"
    cat.add_file(
        ksy, dataset="ge-demo", added=runs[0]["start"], metadata={"describes": "ge/daq/*.bin"}
    )
    for r in runs:
        cat.add_run(
            "ge-demo",
            r["run"],
            run_type=r["run_type"],
            start=r["start"],
            end=r["end"],
            quality="good",
            metadata={
                "n_events": int(r["n_events"]),
                "continuous": bool(r.get("continuous", False)),
                "live_time_s": float(r["live_time_s"]),
                "detector_mass_kg": GE_PARAMETERS["detector_mass_kg"],
            },
        )
        for f in r["files"]:
            cat.add_file(
                f, dataset="ge-demo", run=r["run"], start=r["start"], end=r["end"], added=r["start"]
            )


def _register_coherent(cat, events_file, beam_files, beam, size: str, seed: int) -> None:
    import pandas as pd

    from .. import __version__
    from . import coherent as c

    # n_spills: the beam spills the records stand for (the exposure); n_records: the rows
    config = {
        "size": size,
        "seed": seed,
        "n_records": len(beam),
        "n_spills": len(beam) * c.SPILLS_PER_RECORD,
    } | {k: getattr(c, k) for k in c.CONFIG_KEYS}
    start = pd.Timestamp(int(beam["time_ns"].iloc[0]), tz="UTC")
    end = pd.Timestamp(int(beam["time_ns"].iloc[-1]), tz="UTC")
    cat.add_dataset(
        "csi-demo",
        detector="csi1",
        description="COHERENT-like CsI[Na] at a 60 Hz pulsed spallation source (synthetic)",
        generator="analysis_lib.demo.coherent",
        generator_version=__version__,
        generator_config=config,
    )
    pot = float(beam["pot"].sum())
    cat.add_run(
        "csi-demo",
        1,
        run_type="physics",
        start=start,
        end=end,
        quality="good",
        metadata={
            "pot": pot,
            "n_spills": len(beam) * c.SPILLS_PER_RECORD,
            "beam_on_window_us": c.WINDOW_US,
            "detector_mass_kg": c.DETECTOR_MASS_KG,
        },
    )
    cat.add_file(events_file, dataset="csi-demo", run=1, start=start, end=end, added=start)
    cat.add_dataset(
        "sns-beam-demo",
        detector="sns",
        description="archived beam PVs (synthetic)",
        generator="analysis_lib.demo.coherent",
        generator_version=__version__,
        generator_config=config,
    )
    cat.add_run(
        "sns-beam-demo",
        1,
        run_type="physics",
        start=start,
        end=end,
        quality="good",
        dq_flags=["archiver-gap"],
    )
    for f in beam_files:
        cat.add_file(f, dataset="sns-beam-demo", run=1, added=start)


def generate_demo(
    out: Path, *, size: str = "tiny", seed: int = 1, experiments=EXPERIMENTS, verbose: bool = True
) -> Path:
    """Generate the demo experiments into ``out`` and (re)build ``out/catalog.sqlite``.

    Every file is written atomically; the catalog is built aside and renamed into place
    last, so an interrupted run never leaves a catalog that names missing files.
    """
    import shutil

    from ..catalog import Catalog

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.monotonic()
    tmp_db = out / ".catalog.sqlite.tmp"
    for p in out.glob(".catalog.sqlite.tmp*"):
        p.unlink()
    with Catalog.open(tmp_db) as cat:
        if "ge" in experiments:
            from .ge import write_ge_demo

            runs = write_ge_demo(out / "ge", size=size, seed=seed)
            with cat.transaction():
                _register_ge(cat, runs, size, seed)
            if verbose:
                n = sum(r["n_events"] for r in runs)
                print(f"ge: {len(runs)} runs, {n} events/pulses in {out / 'ge'}")
        if "coherent" in experiments:
            from .coherent import generate_csi_events, simulate_beam, write_beam_archive

            (out / "coherent").mkdir(parents=True, exist_ok=True)
            beam = simulate_beam(DEMO_SPILLS[size], seed=seed)
            events = generate_csi_events(DEMO_SPILLS[size], seed=seed, beam=beam)
            target = out / "coherent" / "csi_events.parquet"
            tmp = target.with_name(".csi_events.parquet.tmp")
            events.to_parquet(tmp, index=False)
            tmp.replace(target)  # atomic: never a half-written file
            beam_root = out / "coherent" / "beam"
            if beam_root.exists():
                shutil.rmtree(beam_root)  # regenerate from scratch: the archive is append-only
            beam_files = write_beam_archive(beam_root, beam)
            with cat.transaction():
                _register_coherent(cat, target, beam_files, beam, size, seed)
            if verbose:
                print(f"wrote {len(events)} events to {target}")
    tmp_db.replace(out / "catalog.sqlite")
    if verbose:
        print(f"catalog: {out / 'catalog.sqlite'} ({time.monotonic() - t_start:.1f} s)")
    return out / "catalog.sqlite"


def run_demo(args: argparse.Namespace) -> None:
    experiments = EXPERIMENTS if args.only is None else (args.only,)
    generate_demo(args.out, size=args.size, seed=args.seed, experiments=experiments)


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo",
        help="generate the synthetic demo experiments",
        description="Generate deterministic, physically plausible demo data: a SuperCDMS-like"
        " Ge detector and a COHERENT-like CsI detector, registered in DIR/catalog.sqlite.",
    )
    demo.add_argument("--out", type=Path, required=True, help="output folder")
    demo.add_argument(
        "--size",
        choices=sorted(DEMO_SPILLS),
        default="tiny",
        help="tiny for tests (seconds), larger for benchmarks",
    )
    demo.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    demo.add_argument("--only", choices=EXPERIMENTS, help="generate one experiment only")
    demo.set_defaults(func=run_demo)
