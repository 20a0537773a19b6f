"""The data-quality monitor measures runs, points at the odd one and flags it in the catalog."""

from __future__ import annotations

import holoviews as hv
import pytest

from analysis_lib.apps.dq_monitor import create_app
from analysis_lib.apps.rundata import dq_metrics, outlier_runs
from analysis_lib.catalog import Catalog


def test_metrics_find_the_noisy_run(sample_catalog):
    with Catalog.open(sample_catalog, create=False) as cat:
        m = dq_metrics(cat)
    assert len(m) == 3 * 2  # runs × channels
    # make_sample_catalog: baselines 1000/1200 ADC, noise σ = 4 ADC, run 3 four times noisier
    ch0 = m[m["channel"] == "PAS1"].set_index("run_number")
    assert ch0.loc[1, "baseline_adc"] == pytest.approx(1000, abs=1)
    assert ch0.loc[1, "noise_adc"] == pytest.approx(4, rel=0.1)
    assert ch0.loc[3, "noise_adc"] == pytest.approx(16, rel=0.1)
    assert ch0.loc[1, "rate_Hz"] == pytest.approx(30 / 3600)  # 30 events in a 1-hour run
    assert set(outlier_runs(m, "noise_adc")["run_number"]) == {3}


def test_app_flags_a_run_in_the_catalog(sample_catalog):
    app = create_app(sample_catalog)
    parts = app.parts
    parts["metric"].value = "noise_adc"
    assert "sample / run 3" in parts["suspicious"].object
    plot = parts["plot"].object
    assert isinstance(plot, hv.Scatter)
    assert plot.vdims[0].name == "noise_adc"
    parts["run"].value = "sample / run 3"
    parts["quality"].value = "bad"
    parts["flags"].value = "noisy, baseline"
    parts["apply"].clicks += 1
    with Catalog.open(sample_catalog, create=False) as cat:
        run3 = cat.runs().set_index("run_number").loc[3]
    assert run3["quality"] == "bad"
    assert list(run3["dq_flags"]) == ["noisy", "baseline"]
    assert "bad" in list(parts["plot"].object.dimension_values("quality"))


def test_dq_metrics_count_runs_per_quality_zeros_included(sample_catalog):
    from prometheus_client.parser import text_string_to_metric_families

    from analysis_lib.apps.dq_metrics import dq_prometheus_metrics

    with Catalog.open(sample_catalog) as cat:
        cat.set_quality("sample", 2, "bad", ["noisy"])
    [family] = text_string_to_metric_families(dq_prometheus_metrics(sample_catalog))
    counts = {(s.labels["dataset"], s.labels["quality"]): s.value for s in family.samples}
    assert counts == {("sample", "bad"): 1.0, ("sample", "good"): 0.0, ("sample", "unknown"): 2.0}
