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
    np.testing.assert_allclose(trace_b.dimension_values("time_s")[:2], [-0.01, -0.009])
    assert trace_b.vdims[0].unit == "µA"
    assert hv.Store.lookup_options("bokeh", plot.Fit.A, "style").kwargs["line_dash"] == "dotted"
    assert "dashed: template" in lineage_of(plot)["caption"]


def test_mismatched_overlay_lengths_and_unknown_channels_are_refused():
    with pytest.raises(ValueError, match="template of channel 'ch0' has 5 samples"):
        trace_viewer(np.zeros(10), sample_rate_Hz=1.0, templates=np.zeros(5))
    with pytest.raises(ValueError, match="unknown channels"):
        trace_viewer({"A": np.zeros(3)}, sample_rate_Hz=1.0, fits={"Z": np.zeros(3)})
