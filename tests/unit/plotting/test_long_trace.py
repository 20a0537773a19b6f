"""A long trace re-decimates to the visible window when the x range changes."""

from __future__ import annotations

import holoviews as hv
import numpy as np
from holoviews.streams import RangeX

from analysis_lib.plotting import lineage_of, long_trace

FS = 625_000.0


def make_trace(seconds: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(3)
    y = rng.normal(0.0, 1.0, int(seconds * FS))
    y[int(0.2 * FS)] = 50.0  # one narrow pulse: decimation must keep it
    return y


def test_full_view_is_decimated_and_keeps_the_spike():
    y = make_trace()
    dmap = long_trace(y, sample_rate_Hz=FS, n_bins=500, label="phonon A", lineage={"data": "r1"})
    assert isinstance(dmap, hv.DynamicMap)
    assert isinstance(dmap.streams[0], RangeX)
    curve = dmap[()]
    assert isinstance(curve, hv.Curve)
    assert [d.name for d in curve.kdims] == ["time_s"]
    assert len(curve) <= 2 * 500 + 2
    assert curve.dimension_values("amplitude").max() == 50.0
    assert lineage_of(dmap)["lineage"] == {"data": "r1"}


def test_zoom_event_redraws_only_the_visible_window():
    y = make_trace()
    dmap = long_trace(y, sample_rate_Hz=FS, n_bins=500)
    dmap[()]
    dmap.streams[0].event(x_range=(0.1, 0.1001))  # 62.5 samples: raw data now
    curve = dmap[()]  # evaluated at the stream's new range
    t = curve.dimension_values("time_s")
    assert t.min() >= 0.1 - 1 / FS
    assert t.max() <= 0.1001 + 1 / FS
    np.testing.assert_array_equal(curve.dimension_values("amplitude"), y[62500:62564])


def test_zoom_updates_the_bokeh_data_source():
    dmap = long_trace(make_trace(), sample_rate_Hz=FS, n_bins=300)
    plot = hv.renderer("bokeh").get_plot(dmap)
    source = plot.handles["source"]
    assert len(source.data["time_s"]) <= 2 * 300 + 2  # min and max per bin, plus a remainder bin
    dmap.streams[0].event(x_range=(0.2, 0.2 + 100 / FS))
    assert len(source.data["time_s"]) == 101  # 100 samples plus the one at the right edge
    assert max(source.data["amplitude"]) == 50.0


def test_the_time_axis_shows_plain_numbers_at_every_zoom():
    """Zoomed to 100 µs near the start, the ticks read 0.0001 s, not 1.000e-4."""
    dmap = long_trace(make_trace(), sample_rate_Hz=FS, n_bins=500)
    dmap[()]
    dmap.streams[0].event(x_range=(0.0, 0.0001))
    figure = hv.render(dmap)
    (axis,) = figure.xaxis
    assert axis.axis_label == "Time (s)"
    assert axis.formatter.use_scientific is False
