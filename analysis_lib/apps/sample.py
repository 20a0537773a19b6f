"""A small, deterministic catalog with raw traces and features, for the apps' tests and demos.

Each run holds phonon-like pulses (two channels, 625 kHz) on a Gaussian baseline in a
RareHub raw file, plus a Parquet feature table with cut columns; one run is made noisier so
the data-quality monitor has something to find.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis_lib.catalog import Catalog
from analysis_lib.io import write_parquet
from analysis_lib.io.raw import RawWriter
from analysis_lib.pulses.simulate import pulse_template

FS_HZ = 625e3
CHANNELS = ("PAS1", "PBS1")


def make_sample_catalog(
    folder: str | Path,
    *,
    n_runs: int = 3,
    n_events: int = 40,
    n_samples: int = 1024,
    noisy_run: int | None = 3,
    dataset: str = "sample",
    seed: int = 1,
) -> Path:
    """Write raw files, feature tables and their catalog into ``folder``.

    Parameters
    ----------
    folder
        Output folder (created).
    n_runs, n_events, n_samples
        Runs 1…n_runs, each with ``n_events`` events of ``n_samples`` samples per channel.
    noisy_run
        Run number given 4× the baseline noise (``None`` for none).
    dataset
        Dataset name in the catalog.
    seed
        Random seed: equal seeds give equal files.

    Returns
    -------
    pathlib.Path
        The catalog database ``folder / "catalog.sqlite"``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    template = pulse_template(n_samples, fs_Hz=FS_HZ, pretrigger_samples=n_samples // 4)
    db = folder / "catalog.sqlite"
    t_start = pd.Timestamp("2026-11-01T00:00:00Z")
    with Catalog.open(db) as cat:
        cat.add_dataset(dataset, detector="tes1", description="apps sample data")
        for run in range(1, n_runs + 1):
            start = t_start + pd.Timedelta(hours=2 * (run - 1))
            end = start + pd.Timedelta(hours=1)
            cat.add_run(dataset, run, run_type="physics", start=start, end=end)
            noise = 4.0 * (4.0 if run == noisy_run else 1.0)
            amplitude = rng.exponential(300.0, n_events) + 20.0
            share = rng.uniform(0.3, 0.7, n_events)
            baseline = np.array([1000.0, 1200.0])
            traces = np.empty((n_events, len(CHANNELS), n_samples))
            for c, frac in enumerate((share, 1 - share)):
                traces[:, c] = baseline[c] + (amplitude * frac)[:, None] * template
            traces += rng.normal(0.0, noise, traces.shape)
            time_ns = (start.value + np.sort(rng.uniform(0, 3600e9, n_events))).astype(np.int64)
            raw_path = folder / f"raw_run{run:04d}.h5"
            with RawWriter(
                raw_path,
                sample_rate_Hz=FS_HZ,
                channels=CHANNELS,
                n_samples=n_samples,
                attrs={"detector": "tes1", "run_number": run},
            ) as w:
                w.append_events(np.rint(traces).astype(np.int16), time_ns=time_ns)
            chi2 = rng.chisquare(n_samples, n_events) / n_samples
            features = pd.DataFrame(
                {
                    "event": np.arange(n_events),
                    "amplitude_adc": amplitude,
                    "partition": share,
                    "chi2_per_dof": chi2,
                    "cut_quality": chi2 < 1.05,
                    "cut_energy": amplitude > 100.0,
                }
            )
            feat_path = folder / f"features_run{run:04d}.parquet"
            write_parquet(features, feat_path)
            cat.add_file(raw_path, dataset=dataset, run=run, start=start, end=end)
            cat.add_file(feat_path, dataset=dataset, run=run)
    return db
