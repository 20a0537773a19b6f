"""Event rate versus time, with beam power on a second axis."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pytest

from analysis_lib.plotting import rate_vs_time


def test_rate_in_hz_with_errors_and_beam_overlay():
    times = np.concatenate([np.full(20, 5.0), np.full(5, 15.0)])
    plot = rate_vs_time(
        times, bin_s=10.0, range_s=(0, 20), beam_time_s=[0, 10], beam_power_MW=[1.4, 0.0]
    )
    rate, bars, beam = plot.values()
    np.testing.assert_allclose(rate.dimension_values("rate_Hz"), [2.0, 0.5])
    np.testing.assert_allclose(rate.dimension_values("time_s"), [5.0, 15.0])
    np.testing.assert_allclose(bars.dimension_values("rate_err_Hz"), np.sqrt([20, 5]) / 10)
    assert beam.vdims[0].name == "beam_power_MW"
    assert hv.Store.lookup_options("bokeh", plot, "plot").kwargs["multi_y"] is True
    figure = hv.render(plot)
    assert len(figure.yaxis) == 2  # rate on the left, beam power on the right
    # the time axis in plain numbers, also for runs of days (172800 s, not 1.728e+5)
    (axis,) = figure.xaxis
    assert axis.axis_label == "Time (s)"
    assert axis.formatter.use_scientific is False


def test_beam_arrays_must_come_together():
    with pytest.raises(ValueError, match="together"):
        rate_vs_time([1.0], beam_time_s=[0.0])
