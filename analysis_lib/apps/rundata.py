"""What the apps read for one run: its event features and raw traces, found via the catalog.

A run's raw file is the catalogued HDF5 file in RareHub's raw format
(:mod:`analysis_lib.io.raw`); its features are the raw file's per-event table, joined on
``event`` with any Parquet event table catalogued for the same run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis_lib.catalog import Catalog
from analysis_lib.io import read_table
from analysis_lib.io.raw import RawFile, RawFormatError


class RunDataError(Exception):
    """A run lacks what an app needs (a raw file, events)."""


@dataclass
class RunData:
    """Features and raw-trace access of one run."""

    dataset: str
    run_number: int
    raw_path: Path
    features: pd.DataFrame
    sample_rate_Hz: float
    channels: list[str]

    def traces(self, event: int) -> np.ndarray:
        """The raw traces of ``event`` (row index of the raw file), (n_channels, n_samples)."""
        with RawFile(self.raw_path) as raw:
            return raw.event(int(event))


def run_label(dataset: str, run_number: int) -> str:
    """The label a run is shown with in the apps' run selectors."""
    return f"{dataset} / run {int(run_number)}"


def run_options(runs: pd.DataFrame) -> dict[str, tuple[str, int]]:
    """Selector options label → (dataset, run_number), from ``Catalog.runs()``."""
    return {
        run_label(r.dataset, r.run_number): (r.dataset, int(r.run_number))
        for r in runs.itertuples()
    }


def _raw_file(files: pd.DataFrame) -> Path | None:
    for f in files[files["format"] == "hdf5"].itertuples():
        try:
            with RawFile(f.path):
                return Path(f.path)
        except RawFormatError:
            continue  # an HDF5 file of another kind (e.g. an event table)
    return None


def load_run(cat: Catalog, dataset: str, run_number: int) -> RunData:
    """Find and read the raw file and event features of one run.

    Raises
    ------
    RunDataError
        When the catalog holds no RareHub raw file for the run.
    """
    files = cat.files(dataset=dataset, run=int(run_number))
    raw_path = _raw_file(files)
    if raw_path is None:
        raise RunDataError(
            f"run {run_number} of dataset {dataset!r} has no raw HDF5 file in {cat.path} "
            f"(catalogued: {list(files['path'])})"
        )
    with RawFile(raw_path) as raw:
        features = raw.event_table()
        sample_rate_Hz, channels = raw.sample_rate_Hz, list(raw.channels)
    for f in files[files["format"] == "parquet"].itertuples():
        table = read_table(f.path, library="pd")
        if "event" in table.columns:
            extra = [c for c in table.columns if c not in features.columns or c == "event"]
            features = features.merge(table[extra], on="event", how="left")
    return RunData(dataset, int(run_number), raw_path, features, sample_rate_Hz, channels)


def dq_metrics(
    cat: Catalog, *, max_events: int = 100, pretrigger_fraction: float = 0.25
) -> pd.DataFrame:
    """Data-quality numbers of every run with a raw file, one row per run and channel.

    The baseline is the mean, and the noise the standard deviation, of the pre-trigger part
    (first ``pretrigger_fraction`` of the samples) of up to ``max_events`` evenly spaced
    events, in ADC counts. The rate is events per second of run time (catalog start/end,
    else the span of event times).

    Returns
    -------
    pandas.DataFrame
        Columns ``dataset``, ``run_number``, ``start_utc``, ``quality``, ``dq_flags``,
        ``channel``, ``n_events``, ``rate_Hz``, ``baseline_adc``, ``noise_adc``.
    """
    rows = []
    for run in cat.runs().itertuples():
        files = cat.files(dataset=run.dataset, run=int(run.run_number))
        raw_path = _raw_file(files)
        if raw_path is None:
            continue
        with RawFile(raw_path) as raw:
            n = raw.n_events
            if n == 0:
                continue
            idx = np.unique(np.linspace(0, n - 1, min(n, max_events)).astype(int))
            traces = raw.events(idx).astype(np.float64)
            times = raw.event_table()["time_ns"].to_numpy()
            channels = list(raw.channels)
        if pd.notna(run.start_utc) and pd.notna(run.end_utc) and run.end_utc > run.start_utc:
            duration_s = (run.end_utc - run.start_utc).total_seconds()
        else:
            duration_s = (times.max() - times.min()) * 1e-9 if n > 1 else np.nan
        rate = n / duration_s if duration_s and duration_s > 0 else np.nan
        pre = traces[:, :, : max(1, int(traces.shape[2] * pretrigger_fraction))]
        for c, name in enumerate(channels):
            rows.append(
                {
                    "dataset": run.dataset,
                    "run_number": int(run.run_number),
                    "start_utc": run.start_utc,
                    "quality": run.quality,
                    "dq_flags": list(run.dq_flags),
                    "channel": name,
                    "n_events": n,
                    "rate_Hz": rate,
                    "baseline_adc": float(pre[:, c].mean()),
                    "noise_adc": float(pre[:, c].std(axis=1).mean()),
                }
            )
    columns = [
        "dataset",
        "run_number",
        "start_utc",
        "quality",
        "dq_flags",
        "channel",
        "n_events",
        "rate_Hz",
        "baseline_adc",
        "noise_adc",
    ]
    return pd.DataFrame(rows, columns=columns)


def outlier_runs(metrics: pd.DataFrame, column: str, *, n_mad: float = 5.0) -> pd.DataFrame:
    """Rows whose ``column`` deviates from the channel's median by more than ``n_mad`` MADs.

    The median absolute deviation is scaled by 1.4826 so that it estimates σ for Gaussian
    scatter (Rousseeuw & Croux 1993); a channel with zero spread flags any deviation.
    """
    if column not in metrics.columns:
        raise KeyError(f"no column {column!r} in the metrics (has {list(metrics.columns)})")
    out = []
    for _, g in metrics.groupby("channel"):
        x = g[column].astype(float)
        med = x.median()
        mad = 1.4826 * (x - med).abs().median()
        dev = (x - med).abs()
        out.append(g[dev > n_mad * mad] if mad > 0 else g[dev > 0])
    return pd.concat(out) if out else metrics.iloc[:0]
