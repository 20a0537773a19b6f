"""Turn catalog runs into :class:`RunInput` objects: raw files, their checksums, companion runs."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .core import PipelineError, RunInput

__all__ = ["RAW_FORMATS", "continuous_run_ids", "run_inputs_from_catalog"]

# catalog formats the source steps read: RareHub raw HDF5 and SuperCDMS MIDAS (``rarehub
# ingest``; the steps take a MIDAS run's physics and random triggers, see pulse_steps)
RAW_FORMATS = ("hdf5", "midas")


def _raw_files(files: pd.DataFrame, run_number: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    sel = files[(files["run_number"] == run_number) & files["format"].isin(RAW_FORMATS)]
    return tuple(sel["path"]), tuple(sel["sha256"])


def _run_id(dataset: str, run_number) -> str:
    return f"{dataset}-run{int(run_number):04d}"


def continuous_run_ids(catalog, *, dataset: str) -> set[str]:
    """Run ids (as in :func:`run_inputs_from_catalog`) of ``dataset``'s continuous-stream
    runs (catalog metadata ``continuous``): what the offline trigger step processes."""
    runs = catalog.runs(dataset=dataset)
    if runs.empty:
        return set()
    flags = runs["metadata"].map(lambda m: bool(m.get("continuous", False)))
    return {_run_id(dataset, n) for n in runs.loc[flags, "run_number"]}


def run_inputs_from_catalog(
    catalog,
    *,
    dataset: str,
    runs: Sequence[int] | None = None,
    run_types: Sequence[str] | None = None,
) -> list[RunInput]:
    """RunInputs for ``dataset``'s runs (all triggered, non-noise runs by default).

    Each run's raw files are its catalogued HDF5 or MIDAS files (``RAW_FORMATS``), with the
    catalog's sha256. The
    companion ``"noise"`` run is the latest noise run of the same detector that started
    before the run (else the earliest noise run after it); a noise run is its own
    companion. Continuous-stream runs (``metadata.continuous``) are left out unless named.

    Raises
    ------
    PipelineError
        If a named run does not exist or has no raw (HDF5 or MIDAS) file.
    """
    all_runs = catalog.runs(dataset=dataset)
    if all_runs.empty:
        raise PipelineError(f"dataset {dataset!r} has no runs in the catalog {catalog.path}")
    files = catalog.files(dataset=dataset)
    if runs is not None:
        missing = sorted(set(runs) - set(all_runs["run_number"]))
        if missing:
            raise PipelineError(
                f"dataset {dataset!r} has no run(s) {missing}; runs are "
                f"{sorted(all_runs['run_number'])}"
            )
        chosen = all_runs[all_runs["run_number"].isin(list(runs))]
    else:
        types = run_types or sorted(set(all_runs["run_type"]) - {"noise"})
        continuous = all_runs["metadata"].map(lambda m: bool(m.get("continuous", False)))
        chosen = all_runs[all_runs["run_type"].isin(types) & ~continuous]
    noise_runs = all_runs[all_runs["run_type"] == "noise"]
    out = []
    for _, r in chosen.iterrows():
        paths, sums = _raw_files(files, r["run_number"])
        if not paths:
            raise PipelineError(
                f"run {r['run_number']} of {dataset!r} has no raw file of a format in {RAW_FORMATS}"
            )
        companions = {}
        cands = noise_runs[noise_runs["detector"] == r["detector"]]
        if not cands.empty:
            before = cands[cands["start_utc"] <= r["start_utc"]]
            pick = before.iloc[-1] if not before.empty else cands.iloc[0]
            companions["noise"] = _raw_files(files, pick["run_number"])
        out.append(RunInput(_run_id(dataset, r["run_number"]), paths, sums, companions=companions))
    return out
