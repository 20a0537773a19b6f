"""Cut-flow bars with per-cut efficiencies."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd
import pytest

from analysis_lib.plotting import cut_flow


def test_bars_and_efficiencies():
    plot = cut_flow({"all": 1000, "quality": 800, "fiducial": 200})
    bars, labels = plot.values()
    assert isinstance(bars, hv.Bars)
    assert isinstance(labels, hv.Labels)
    assert list(bars.dimension_values("cut")) == ["all", "quality", "fiducial"]
    np.testing.assert_allclose(bars.dimension_values("efficiency"), [1.0, 0.8, 0.25])
    np.testing.assert_allclose(bars.dimension_values("cumulative"), [1.0, 0.8, 0.2])
    assert list(labels.dimension_values("text")) == ["100.0 %", "80.0 %", "25.0 %"]


def test_table_input_and_increasing_counts_refused():
    table = pd.DataFrame({"cut": ["all", "x"], "n_pass": [10, 0]})
    assert cut_flow(table).values()[0].dimension_values("efficiency")[1] == 0.0
    with pytest.raises(ValueError, match="non-increasing"):
        cut_flow({"all": 10, "x": 11})
