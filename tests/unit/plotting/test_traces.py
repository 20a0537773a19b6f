"""Multi-channel traces with template and fit overlays."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pytest

from analysis_lib.plotting import lineage_of, trace_viewer


def test_each_channel_gets_trace_template_and_fit_curves():
    y = np.vstack([np.arange(100.0), -np.arange(100.0)])
    plot = trace_viewer(
        y,
        sample_rate_Hz=1e3,
        channels=["A", "B"],
        t0_s=-0.01,
        templates={"A": np.zeros(100)},
        fits=2 * y,
        value_unit="µA",
    )
    assert isinstance(plot, hv.Overlay)
    groups = [(c.group, c.label) for c in plot]
    assert groups == [("Trace", "A"), ("Template", "A"), ("Fit", "A"), ("Trace", "B"), ("Fit", "B")]
    trace_b = plot.Trace.B
    np.testing.assert_allclose(trace_b.dimension_values("amplitude"), -np.arange(100.0))
    # 100 samples at 1 kHz: 0.1 s, drawn in ms
    np.testing.assert_allclose(trace_b.dimension_values("time_ms")[:2], [-10.0, -9.0])
    assert trace_b.vdims[0].unit == "µA"
    assert hv.Store.lookup_options("bokeh", plot.Fit.A, "style").kwargs["line_dash"] == "dotted"
    assert "dashed: template" in lineage_of(plot)["caption"]


def test_mismatched_overlay_lengths_and_unknown_channels_are_refused():
    with pytest.raises(ValueError, match="template of channel 'ch0' has 5 samples"):
        trace_viewer(np.zeros(10), sample_rate_Hz=1.0, templates=np.zeros(5))
    with pytest.raises(ValueError, match="unknown channels"):
        trace_viewer({"A": np.zeros(3)}, sample_rate_Hz=1.0, fits={"Z": np.zeros(3)})


@pytest.mark.parametrize(
    ("n_samples", "rate_Hz", "unit", "first_last"),
    [
        (4096, 625e3, "ms", (0.0, 6.552)),  # the Ge demo's 6.6 ms traces: 0 … 6.55 ms
        (500, 1e6, "µs", (0.0, 499.0)),  # 0.5 ms → 0 … 499 µs
        (30, 1e9, "ns", (0.0, 29.0)),
        (2000, 1e3, "s", (0.0, 1.999)),
    ],
)
def test_the_time_axis_reads_in_a_unit_of_the_traces_length(n_samples, rate_Hz, unit, first_last):
    """Ticks a physicist reads at a glance: the axis is in the largest unit in which the
    traces span at least 1, so Bokeh's labels are never 0.000e+0 … 6.000e-3 s."""
    plot = trace_viewer(np.zeros((2, n_samples)), sample_rate_Hz=rate_Hz, value_unit="ADC")
    (kdim,) = plot.Trace.ch0.kdims
    assert kdim.unit == unit
    t = plot.Trace.ch0.dimension_values(kdim.name)
    np.testing.assert_allclose([t[0], t[-1]], first_last, rtol=1e-9, atol=1e-12)
    # Bokeh writes plain numbers between 1e-3 and 1e5 (BasicTickFormatter): span ≥ 1 unit
    assert 1 <= t[-1] - t[0] + (t[1] - t[0]) < 1e5
    figure = hv.render(plot)
    assert figure.xaxis[0].axis_label == f"Time ({unit})"
