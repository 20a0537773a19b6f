"""The event browser shows the chosen run's events and steps through cuts."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd

from analysis_lib.apps.event_browser import ALL_EVENTS, create_app, passing_events
from analysis_lib.io import read_table
from analysis_lib.io.raw import RawFile
from analysis_lib.plotting import lineage_of


def test_choose_run_cut_and_step(sample_catalog):
    app = create_app(sample_catalog)
    parts = app.parts
    assert parts["run"].options[0] == "sample / run 1"
    parts["run"].value = "sample / run 2"
    parts["cut"].value = "cut_energy"
    features = read_table(sample_catalog.parent / "features_run0002.parquet")
    expected = np.flatnonzero(features["cut_energy"])
    assert parts["event"].options == [int(i) for i in expected]
    parts["next"].clicks += 1
    event = int(expected[1])
    assert parts["event"].value == event
    assert f"event {event} (2 of {len(expected)} passing *cut_energy*" in parts["status"].object
    plot = parts["traces"].object
    assert isinstance(plot, hv.Overlay)
    with RawFile(sample_catalog.parent / "raw_run0002.h5") as raw:
        want = raw.event(event)
        raw_rate = raw.sample_rate_Hz
    np.testing.assert_array_equal(plot.values()[1].dimension_values("amplitude"), want[1])
    # the time axis in a unit read at a glance (was: 0.000e+0 … 6.000e-3 s)
    (kdim,) = plot.values()[1].kdims
    t = plot.values()[1].dimension_values(kdim)
    duration_s = len(want[1]) / raw_rate
    assert kdim.unit in {"ms", "µs"}
    scale = {"ms": 1e3, "µs": 1e6}[kdim.unit]
    np.testing.assert_allclose(t[-1] - t[0], (duration_s - 1 / raw_rate) * scale)
    assert 1 <= duration_s * scale < 1000
    assert lineage_of(plot)["lineage"]["data"] == f"raw_run0002.h5 event {event}"
    shown = parts["features"].object
    assert shown.loc["amplitude_adc", "value"] == features.loc[event, "amplitude_adc"]
    parts["previous"].clicks += 1
    parts["previous"].clicks += 1  # wraps around to the last passing event
    assert parts["event"].value == int(expected[-1])


def test_passing_events():
    features = pd.DataFrame({"c": [True, False, True]})
    np.testing.assert_array_equal(passing_events(features, "c"), [0, 2])
    np.testing.assert_array_equal(passing_events(features, ALL_EVENTS), [0, 1, 2])
