"""Run lists in and out: CSV and YAML files naming (dataset, run_number) pairs.

A run list is the unit analysers pass around ("the good physics runs of ge1 in January").
Both formats carry the same columns; extra columns (quality, notes …) travel along.

CSV::

    dataset,run_number,quality
    ge1-2026,12,good

YAML::

    runs:
      - {dataset: ge1-2026, run_number: 12, quality: good}
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import yaml

from ..io.atomic import atomic_write_text
from .store import CatalogError

REQUIRED = ("dataset", "run_number")


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    raise CatalogError(f"run list {path}: unknown suffix {suffix!r}; use .csv, .yaml or .yml")


def read_runlist(path: str | os.PathLike) -> pd.DataFrame:
    """Read a run list (CSV or YAML, by suffix) into a DataFrame with at least
    ``dataset`` (str) and ``run_number`` (int)."""
    path = Path(path)
    kind = _kind(path)
    if not path.is_file():
        raise CatalogError(f"run list {path}: no such file")
    if kind == "csv":
        df = pd.read_csv(path, dtype={"dataset": str})
    else:
        try:
            doc = yaml.safe_load(path.read_text())
        except yaml.YAMLError as e:
            raise CatalogError(f"run list {path}: not valid YAML: {e}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("runs"), list):
            raise CatalogError(f"run list {path}: expected a mapping with a 'runs:' list")
        for i, entry in enumerate(doc["runs"]):
            if not isinstance(entry, dict):
                raise CatalogError(f"run list {path}: runs[{i}] is not a mapping: {entry!r}")
        df = pd.DataFrame(doc["runs"])
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise CatalogError(
            f"run list {path}: missing column(s) {missing}; a run list needs {list(REQUIRED)}"
        )
    numbers = pd.to_numeric(df["run_number"], errors="coerce")
    bad = df.index[numbers.isna() | (numbers != numbers.round())]
    if len(bad):
        i = bad[0]
        raise CatalogError(
            f"run list {path}: entry {i} has run_number {df['run_number'][i]!r},"
            " which is not an integer"
        )
    df["run_number"] = numbers.astype("int64")
    df["dataset"] = df["dataset"].astype(str)
    return df


def write_runlist(runs: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the ``dataset`` and ``run_number`` (plus simple extra columns) of ``runs``
    to a CSV or YAML run list, atomically (temporary file, then rename)."""
    path = Path(path)
    kind = _kind(path)
    missing = [c for c in REQUIRED if c not in runs.columns]
    if missing:
        raise CatalogError(f"cannot write run list {path}: missing column(s) {missing}")
    keep = [c for c in ("dataset", "run_number", "detector", "run_type", "quality") if c in runs]
    out = runs[keep].copy()
    for c in ("start_utc", "end_utc"):
        if c in runs:
            out[c] = runs[c].map(lambda t: None if pd.isna(t) else t.isoformat())
    out["run_number"] = out["run_number"].astype(int)
    if kind == "csv":
        text = out.to_csv(index=False)
    else:
        text = yaml.safe_dump({"runs": out.to_dict(orient="records")}, sort_keys=False)
    return atomic_write_text(path, text)
