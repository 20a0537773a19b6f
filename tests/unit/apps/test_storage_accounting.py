"""Storage usage, fill rate, days-to-full and alerts, and their Prometheus export."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from analysis_lib.apps.storage import (
    Thresholds,
    catalog_storage,
    dataset_growth_rate,
    prometheus_metrics,
    usage_by_dataset,
    volume_status,
)
from analysis_lib.catalog import Catalog

NOW = pd.Timestamp("2026-11-25T12:00:00Z")
TiB = 2**40


def tables(bytes_per_day: float, days: int = 10):
    files = pd.DataFrame(
        {
            "file_id": [1, 2, 3],
            "dataset": ["a", "a", "b"],
            "volume": ["/data", "/data", "/data"],
            "size_bytes": [100, 200, 50],
        }
    )
    growth = pd.DataFrame(
        {
            "day": pd.date_range(end=NOW.normalize(), periods=days, freq="D"),
            "dataset": "a",
            "volume": "/data",
            "bytes_added": bytes_per_day,
        }
    )
    return files, growth


def fixed_disk(total: float, free: float):
    # The real file system cannot be filled to a threshold in a test: its numbers are given.
    return lambda _path: (total, total - free, free)


def test_fill_rate_and_days_to_full():
    files, growth = tables(bytes_per_day=2e9, days=10)
    status = volume_status(
        files, growth, now=NOW, disk_usage=fixed_disk(10 * TiB, 5 * TiB), thresholds=Thresholds()
    )
    row = status.iloc[0]
    assert row["catalog_bytes"] == 350
    assert row["n_files"] == 3
    # 10 days of history inside a 14-day window: the rate is averaged over those 10 days.
    assert row["fill_rate_bytes_per_day"] == pytest.approx(2e9)
    assert row["days_to_full"] == pytest.approx(5 * TiB / 2e9)
    assert row["used_fraction"] == pytest.approx(0.5)
    assert row["alert"] == "ok"


@pytest.mark.parametrize(
    ("free_fraction", "rate", "alert", "reason"),
    [
        (0.15, 0.0, "warning", "85% used"),
        (0.02, 0.0, "critical", "98% used"),
        (0.5, TiB / 20, "warning", "full in 10.0 d"),
        (0.5, TiB / 2, "critical", "full in 1.0 d"),
    ],
)
def test_alert_levels(free_fraction, rate, alert, reason):
    files, growth = tables(bytes_per_day=rate, days=14)
    status = volume_status(files, growth, now=NOW, disk_usage=fixed_disk(TiB, free_fraction * TiB))
    assert status.iloc[0]["alert"] == alert
    assert reason in status.iloc[0]["reason"]


def test_unmounted_volume_is_critical():
    files, growth = tables(1.0)

    def missing(path):
        raise FileNotFoundError(path)

    status = volume_status(files, growth, now=NOW, disk_usage=missing)
    assert status.iloc[0]["alert"] == "critical"
    assert math.isnan(status.iloc[0]["used_fraction"])


def test_bad_thresholds_are_refused():
    with pytest.raises(ValueError, match="warn_used_fraction"):
        Thresholds(warn_used_fraction=0.99, critical_used_fraction=0.9)


def test_metrics_text_parses_as_prometheus():
    files, growth = tables(bytes_per_day=0.0)
    files.loc[2, "dataset"] = 'b "quoted"\\name'
    status = volume_status(files, growth, now=NOW, disk_usage=fixed_disk(TiB, TiB / 2))
    text = prometheus_metrics(status, usage_by_dataset(files), Thresholds())
    families = {f.name: f for f in text_string_to_metric_families(text)}
    days = families["rarehub_storage_volume_days_to_full"].samples[0]
    assert days.labels == {"volume": "/data"}
    assert math.isinf(days.value)  # not filling: never full
    per_dataset = {
        s.labels["dataset"]: s.value for s in families["rarehub_storage_dataset_bytes"].samples
    }
    assert per_dataset == {"a": 300.0, 'b "quoted"\\name': 50.0}
    levels = families["rarehub_storage_volume_alert_level"].samples
    assert [s.value for s in levels] == [0.0]
    thresholds = families["rarehub_storage_threshold_used_ratio"].samples
    assert {s.labels["level"]: s.value for s in thresholds} == {"warning": 0.8, "critical": 0.95}


def test_catalog_storage_reads_the_real_catalog_and_file_system(sample_catalog):
    status, usage, growth = catalog_storage(sample_catalog)
    with Catalog.open(sample_catalog, create=False) as cat:
        files = cat.files()
    assert usage["size_bytes"].sum() == files["size_bytes"].sum()
    assert set(status["volume"]) == set(files["volume"])
    assert (status["total_bytes"] > 0).all()
    assert growth["bytes_added"].sum() == files["size_bytes"].sum()


def test_growth_rate_per_dataset_averages_the_window_and_is_exported():
    _, growth = tables(bytes_per_day=3e9, days=20)  # 20 days of 3 GB/day for dataset "a"
    growth = pd.concat(
        [
            growth,
            pd.DataFrame(
                {
                    "day": [NOW.normalize() - pd.Timedelta(days=30)],
                    "dataset": ["old"],
                    "volume": ["/data"],
                    "bytes_added": [5e9],
                }
            ),
        ]
    )
    rate = dataset_growth_rate(growth, window_days=14, now=NOW)
    by = dict(zip(rate["dataset"], rate["bytes_per_day"], strict=True))
    assert by == {"a": pytest.approx(3e9), "old": 0.0}  # "old" grew before the window
    files, _ = tables(bytes_per_day=0.0)
    status = volume_status(files, growth, now=NOW, disk_usage=fixed_disk(TiB, TiB / 2))
    text = prometheus_metrics(status, usage_by_dataset(files), growth_rate=rate)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = families["rarehub_storage_dataset_growth_bytes_per_day"].samples
    assert {s.labels["dataset"]: s.value for s in samples} == by
