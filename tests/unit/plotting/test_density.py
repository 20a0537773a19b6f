"""Datashaded 2-D densities aggregate every event server-side."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd
import pytest

from analysis_lib.plotting import discrimination_vs_energy, energy_vs_time, lineage_of


@pytest.fixture
def events() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 50_000
    return pd.DataFrame(
        {
            "time_s": rng.uniform(0, 3600, n),
            "energy_keV": rng.exponential(10, n),
            "ionization_yield": rng.normal(1, 0.1, n),
        }
    )


def test_energy_time_counts_every_event(events):
    dmap = energy_vs_time(events, lineage={"data": "run 7"}, width=80, height=60)
    assert isinstance(dmap, hv.DynamicMap)
    image = dmap[()]
    assert isinstance(image, hv.Image)
    assert [d.name for d in image.kdims] == ["time_s", "energy_keV"]
    assert np.nansum(image.dimension_values(2)) == len(events)
    assert image.dimension_values(2).size == 80 * 60  # the requested aggregation grid
    assert lineage_of(dmap)["lineage"] == {"data": "run 7"}
    assert hv.Store.lookup_options("bokeh", image, "plot").kwargs["cnorm"] == "log"


def test_discrimination_plane_respects_ranges(events):
    dmap = discrimination_vs_energy(
        events, energy_range=(0, 10), discriminator_range=(0.5, 1.5), width=50, height=50
    )
    image = dmap[()]
    assert [d.name for d in image.kdims] == ["energy_keV", "ionization_yield"]
    inside = events[
        (events.energy_keV >= 0)
        & (events.energy_keV <= 10)
        & (events.ionization_yield >= 0.5)
        & (events.ionization_yield <= 1.5)
    ]
    assert np.nansum(image.dimension_values(2)) == pytest.approx(len(inside), abs=5)


def test_missing_column_is_named(events):
    with pytest.raises(KeyError, match="energy_PE"):
        energy_vs_time(events, energy="energy_PE")


def test_zoom_reaggregates_only_the_visible_window(events):
    dmap = energy_vs_time(events, width=40, height=30)
    dmap[()]
    rangexy = dmap.streams[0]
    rangexy.event(x_range=(0.0, 1800.0), y_range=(0.0, 5.0))
    image = dmap[()]
    inside = events[(events.time_s <= 1800.0) & (events.energy_keV <= 5.0)]
    assert np.nansum(image.dimension_values(2)) == pytest.approx(len(inside), abs=5)
    assert image.bounds.lbrt() == pytest.approx((0.0, 0.0, 1800.0, 5.0))


def test_finite_range_ignores_nan_and_single_values_get_a_width():
    from analysis_lib.plotting._density import finite_range

    assert finite_range(np.array([np.nan, 3.0, -1.0, np.nan])) == (-1.0, 3.0)
    with pytest.raises(ValueError, match="no finite values"):
        finite_range(np.array([np.nan]))
    image = energy_vs_time(pd.DataFrame({"time_s": [5.0, 5.0], "energy_keV": [1.0, 2.0]}))[()]
    assert image.bounds.lbrt()[::2] == (4.5, 5.5)
