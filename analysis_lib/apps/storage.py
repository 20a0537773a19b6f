"""Storage accounting for the storage monitor: usage, fill rate, days to full, alerts.

Pure functions on the catalog's tables plus the file system's own numbers
(:func:`shutil.disk_usage`), so the app, the ``/metrics`` route and the tests share them.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis_lib.io.prometheus_text import metric_family

ALERT_LEVELS = ("ok", "warning", "critical")


@dataclass(frozen=True)
class Thresholds:
    """When a volume raises an alert.

    Attributes
    ----------
    warn_used_fraction, critical_used_fraction
        Used / total space of the file system (0–1) at which a warning / critical alert fires.
    warn_days_to_full, critical_days_to_full
        Projected days until the volume is full (at the recent fill rate) below which a
        warning / critical alert fires.
    window_days
        Days of catalog growth history averaged into the fill rate.
    """

    warn_used_fraction: float = 0.80
    critical_used_fraction: float = 0.95
    warn_days_to_full: float = 30.0
    critical_days_to_full: float = 7.0
    window_days: int = 14

    def __post_init__(self) -> None:
        if not 0 < self.warn_used_fraction <= self.critical_used_fraction <= 1:
            raise ValueError(
                "need 0 < warn_used_fraction ≤ critical_used_fraction ≤ 1, got "
                f"{self.warn_used_fraction} and {self.critical_used_fraction}"
            )
        if not self.warn_days_to_full >= self.critical_days_to_full >= 0:
            raise ValueError(
                "need warn_days_to_full ≥ critical_days_to_full ≥ 0, got "
                f"{self.warn_days_to_full} and {self.critical_days_to_full}"
            )
        if self.window_days < 1:
            raise ValueError(f"window_days must be ≥ 1, got {self.window_days}")


def usage_by_dataset(files: pd.DataFrame) -> pd.DataFrame:
    """Catalogued bytes and files per (dataset, volume), from ``Catalog.files()``."""
    if files.empty:
        return pd.DataFrame(columns=["dataset", "volume", "size_bytes", "n_files"])
    return (
        files.groupby(["dataset", "volume"], as_index=False)
        .agg(size_bytes=("size_bytes", "sum"), n_files=("file_id", "count"))
        .sort_values(["volume", "dataset"], ignore_index=True)
    )


def volume_status(
    files: pd.DataFrame,
    growth: pd.DataFrame,
    *,
    thresholds: Thresholds = Thresholds(),
    now: pd.Timestamp | None = None,
    disk_usage: Callable[[str], Any] = shutil.disk_usage,
) -> pd.DataFrame:
    """One row per volume: file-system usage, catalogued bytes, fill rate, days to full, alert.

    Parameters
    ----------
    files
        ``Catalog.files()`` (columns ``volume``, ``size_bytes``, ``file_id``).
    growth
        ``Catalog.growth()`` (columns ``day``, ``volume``, ``bytes_added``).
    thresholds
        Alert thresholds and the fill-rate window.
    now
        The present (UTC); defaults to the current time.
    disk_usage
        ``(path) -> (total, used, free)`` in bytes; :func:`shutil.disk_usage` by default.

    Returns
    -------
    pandas.DataFrame
        Columns ``volume``, ``catalog_bytes``, ``n_files``, ``total_bytes``, ``used_bytes``,
        ``free_bytes``, ``used_fraction`` (``1 − free/total``), ``fill_rate_bytes_per_day``,
        ``days_to_full`` (``inf`` when not filling), ``alert`` (one of :data:`ALERT_LEVELS`)
        and ``reason``.
        A volume that is not mounted here has NaN usage and alert ``critical``.
    """
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    if now.tzinfo is None:
        now = now.tz_localize("UTC")
    volumes = sorted(set(files["volume"]) | set(growth["volume"])) if len(files) else []
    rows = []
    for volume in volumes:
        in_vol = files[files["volume"] == volume]
        g = growth[growth["volume"] == volume]
        start = now.normalize() - pd.Timedelta(days=thresholds.window_days - 1)
        recent = g[g["day"] >= start]
        if len(g):
            span = (now.normalize() - max(g["day"].min(), start)).days + 1
        else:
            span = thresholds.window_days
        rate = float(recent["bytes_added"].sum()) / max(span, 1)
        try:
            total, used, free = (float(v) for v in disk_usage(volume))
        except OSError:
            total = used = free = math.nan
        # Space a user can still write is what counts: reserved blocks count as used.
        used_fraction = 1.0 - free / total if total else math.nan
        days = free / rate if rate > 0 else math.inf
        alert, reason = _alert(used_fraction, days, thresholds, volume)
        rows.append(
            {
                "volume": volume,
                "catalog_bytes": int(in_vol["size_bytes"].sum()),
                "n_files": len(in_vol),
                "total_bytes": total,
                "used_bytes": used,
                "free_bytes": free,
                "used_fraction": used_fraction,
                "fill_rate_bytes_per_day": rate,
                "days_to_full": days,
                "alert": alert,
                "reason": reason,
            }
        )
    columns = [
        "volume",
        "catalog_bytes",
        "n_files",
        "total_bytes",
        "used_bytes",
        "free_bytes",
        "used_fraction",
        "fill_rate_bytes_per_day",
        "days_to_full",
        "alert",
        "reason",
    ]
    return pd.DataFrame(rows, columns=columns)


def _alert(used_fraction: float, days: float, t: Thresholds, volume: str) -> tuple[str, str]:
    if math.isnan(used_fraction):
        return "critical", f"{volume} is not mounted here"
    reasons = {"critical": [], "warning": []}
    if used_fraction >= t.critical_used_fraction:
        reasons["critical"].append(f"{used_fraction:.0%} used ≥ {t.critical_used_fraction:.0%}")
    elif used_fraction >= t.warn_used_fraction:
        reasons["warning"].append(f"{used_fraction:.0%} used ≥ {t.warn_used_fraction:.0%}")
    if days <= t.critical_days_to_full:
        reasons["critical"].append(f"full in {days:.1f} d ≤ {t.critical_days_to_full:g} d")
    elif days <= t.warn_days_to_full:
        reasons["warning"].append(f"full in {days:.1f} d ≤ {t.warn_days_to_full:g} d")
    for level in ("critical", "warning"):
        if reasons[level]:
            return level, "; ".join(reasons["critical"] + reasons["warning"])
    return "ok", ""


def dataset_growth_rate(
    growth: pd.DataFrame, *, window_days: int, now: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Catalogued bytes added per day per (dataset, volume), averaged over the last
    ``window_days`` UTC days (today included), from ``Catalog.growth()``."""
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    if now.tzinfo is None:
        now = now.tz_localize("UTC")
    columns = ["dataset", "volume", "bytes_per_day"]
    if growth.empty:
        return pd.DataFrame(columns=columns)
    start = now.normalize() - pd.Timedelta(days=window_days - 1)
    recent = growth[growth["day"] >= start]
    keys = growth[["dataset", "volume"]].drop_duplicates()
    added = recent.groupby(["dataset", "volume"], as_index=False)["bytes_added"].sum()
    out = keys.merge(added, on=["dataset", "volume"], how="left").fillna({"bytes_added": 0})
    out["bytes_per_day"] = out.pop("bytes_added").astype(float) / window_days
    return out.sort_values(["volume", "dataset"], ignore_index=True)[columns]


def prometheus_metrics(
    status: pd.DataFrame,
    usage: pd.DataFrame,
    thresholds: Thresholds = Thresholds(),
    *,
    growth_rate: pd.DataFrame | None = None,
    plan: pd.DataFrame | None = None,
) -> str:
    """Render the storage state in the Prometheus text exposition format (version 0.0.4).

    Parameters
    ----------
    status
        :func:`volume_status` output.
    usage
        :func:`usage_by_dataset` output.
    thresholds
        Exported as gauges too, so alert rules can compare against the same numbers.
    growth_rate
        :func:`dataset_growth_rate` output (optional): per-dataset fill rates.
    plan
        The lifecycle planner's summary (optional, ``rarehub storage plan``): bytes of
        stored results per dataset and processing level, and how many are rebuildable.

    Returns
    -------
    str
        Metric families ``rarehub_storage_*`` (all gauges), newline-terminated.
    """
    out: list[str] = []

    def family(name: str, help_: str, samples: list[tuple[dict[str, Any], float]]) -> None:
        out.extend(metric_family(name, help_, samples))

    per_volume = [
        ("total_bytes", "volume_total_bytes", "Size of the file system holding the volume."),
        ("used_bytes", "volume_used_bytes", "Bytes used on the file system."),
        ("free_bytes", "volume_free_bytes", "Bytes free on the file system."),
        ("used_fraction", "volume_used_ratio", "Used / total space of the file system."),
        ("catalog_bytes", "volume_catalog_bytes", "Bytes of catalogued files on the volume."),
        (
            "fill_rate_bytes_per_day",
            "volume_fill_rate_bytes_per_day",
            "Catalogued bytes added per day, averaged over the fill-rate window.",
        ),
        ("days_to_full", "volume_days_to_full", "Projected days until the volume is full."),
    ]
    for column, name, help_ in per_volume:
        family(
            f"rarehub_storage_{name}",
            help_,
            [({"volume": r.volume}, float(getattr(r, column))) for r in status.itertuples()],
        )
    family(
        "rarehub_storage_volume_alert_level",
        "Alert level of the volume: 0 ok, 1 warning, 2 critical.",
        [({"volume": r.volume}, ALERT_LEVELS.index(r.alert)) for r in status.itertuples()],
    )
    family(
        "rarehub_storage_dataset_bytes",
        "Bytes of catalogued files per dataset and volume.",
        [
            ({"dataset": r.dataset, "volume": r.volume}, float(r.size_bytes))
            for r in usage.itertuples()
        ],
    )
    family(
        "rarehub_storage_dataset_files",
        "Number of catalogued files per dataset and volume.",
        [
            ({"dataset": r.dataset, "volume": r.volume}, float(r.n_files))
            for r in usage.itertuples()
        ],
    )
    if growth_rate is not None:
        family(
            "rarehub_storage_dataset_growth_bytes_per_day",
            "Catalogued bytes added per day per dataset and volume, over the fill-rate window.",
            [
                ({"dataset": r.dataset, "volume": r.volume}, float(r.bytes_per_day))
                for r in growth_rate.itertuples()
            ],
        )
    if plan is not None:
        for column, name, help_ in (
            ("bytes", "results_bytes", "Bytes of stored results per dataset and level."),
            (
                "rebuildable_bytes",
                "rebuildable_bytes",
                "Bytes of stored results their lineage can rebuild, per dataset and level.",
            ),
            (
                "rebuildable_old_bytes",
                "rebuildable_old_bytes",
                "Rebuildable bytes older than the planner's age limit (deletion candidates).",
            ),
        ):
            family(
                f"rarehub_storage_{name}",
                help_,
                [
                    ({"dataset": r.dataset, "level": r.level}, float(getattr(r, column)))
                    for r in plan.itertuples()
                ],
            )
    family(
        "rarehub_storage_threshold_used_ratio",
        "Used-space fraction at which an alert fires.",
        [
            ({"level": "warning"}, thresholds.warn_used_fraction),
            ({"level": "critical"}, thresholds.critical_used_fraction),
        ],
    )
    family(
        "rarehub_storage_threshold_days_to_full",
        "Days-to-full below which an alert fires.",
        [
            ({"level": "warning"}, thresholds.warn_days_to_full),
            ({"level": "critical"}, thresholds.critical_days_to_full),
        ],
    )
    return "\n".join(out) + "\n"


def catalog_storage(
    catalog_path: str | Path, thresholds: Thresholds = Thresholds(), **kwargs: Any
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Read a catalog and return ``(status, usage, growth)`` for the storage monitor.

    ``kwargs`` go to :func:`volume_status` (``now``, ``disk_usage``).
    """
    from analysis_lib.catalog import Catalog

    with Catalog.open(catalog_path, create=False) as cat:
        files = cat.files()
        growth = cat.growth()
    status = volume_status(files, growth, thresholds=thresholds, **kwargs)
    return status, usage_by_dataset(files), growth
