"""Calibration fit over its residuals."""

from __future__ import annotations

import holoviews as hv
import numpy as np

from analysis_lib.plotting import calibration_fit


def test_layout_has_fit_panel_and_pulls():
    adc = np.array([100.0, 200.0, 300.0])
    true = np.array([1.0, 2.1, 3.0])
    layout = calibration_fit(adc, true, lambda x: x / 100.0, measured_err=[2.0, 2.0, 2.0])
    assert isinstance(layout, hv.Layout)
    assert len(layout) == 2
    top, bottom = layout.values()
    points = top.values()[0]
    np.testing.assert_allclose(points.dimension_values("energy_keV"), true)
    curve = top.values()[2]
    np.testing.assert_allclose(
        curve.dimension_values("energy_keV"), curve.dimension_values(0) / 100
    )
    pulls = bottom.values()[0]
    # σ_E = slope · σ_x = 0.01 keV/ADC · 2 ADC = 0.02 keV
    np.testing.assert_allclose(pulls.dimension_values("pull"), (adc / 100 - true) / 0.02, rtol=1e-6)


def test_without_errors_residuals_are_in_keV():
    layout = calibration_fit([1.0, 2.0], [1.5, 2.0], lambda x: x)
    res = layout.values()[1].values()[0]
    assert res.vdims[0].unit == "keV"
    np.testing.assert_allclose(res.dimension_values("residual_keV"), [-0.5, 0.0])
