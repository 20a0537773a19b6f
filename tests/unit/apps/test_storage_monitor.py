"""The storage monitor app and its /metrics handler read the real catalog."""

from __future__ import annotations

import holoviews as hv
import pytest

from analysis_lib.apps.storage_monitor import create_app


def test_app_shows_volumes_and_filters_growth(sample_catalog):
    app = create_app(sample_catalog)
    parts = app.parts
    assert parts["dataset"].options == ["all datasets", "sample"]
    assert list(parts["volumes"].object.columns[:2]) == ["volume", "n_files"]
    assert isinstance(parts["usage"].object, hv.Bars)
    parts["dataset"].value = "sample"
    growth = parts["growth"].object
    assert hv.Store.lookup_options("bokeh", growth, "plot").kwargs["title"] == "Growth — sample"
    assert isinstance(growth, hv.NdOverlay)
    curve = growth.values()[0]
    total_GiB = parts["volumes"].object["catalog_GiB"].sum()
    assert curve.dimension_values("cumulative_GiB")[-1] == pytest.approx(total_GiB, abs=1e-3)
