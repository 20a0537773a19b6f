"""Exclusion-limit curve with expected bands and comparisons."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pytest

from analysis_lib.plotting import exclusion_limit


def test_limit_bands_and_comparison_on_log_axes():
    m = np.array([1.0, 10.0, 100.0])
    s = np.array([1e-40, 1e-44, 1e-45])
    plot = exclusion_limit(
        m, s, expected_1sigma=(s / 2, s * 2), others={"CRESST": ([1.0, 100.0], [1e-39, 1e-44])}
    )
    kinds = [type(el).__name__ for el in plot]
    assert kinds == ["Area", "Curve", "Curve"]
    np.testing.assert_allclose(plot.values()[0].dimension_values("high"), s * 2)
    np.testing.assert_allclose(plot.values()[1].dimension_values("cross_section_cm2"), s)
    assert plot.values()[2].label == "CRESST"
    opts = hv.Store.lookup_options("bokeh", plot, "plot").kwargs
    assert opts["logx"]
    assert opts["logy"]


def test_non_positive_values_refused():
    with pytest.raises(ValueError, match="> 0"):
        exclusion_limit([0.0, 1.0], [1e-40, 1e-41])
