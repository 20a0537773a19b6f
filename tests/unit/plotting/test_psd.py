"""Noise PSDs on log-log axes, one curve per channel."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pytest

from analysis_lib.plotting import noise_psd


def test_asd_drops_dc_and_takes_square_root():
    f = np.array([0.0, 10.0, 100.0])
    psd = np.array([[1.0, 4e-22, 1e-22], [9.0, 9e-22, 9e-22]])
    plot = noise_psd(f, psd, channels=["A", "B"])
    assert [c.label for c in plot] == ["A", "B"]
    a = plot.values()[0]
    np.testing.assert_allclose(a.dimension_values("frequency_Hz"), [10.0, 100.0])
    np.testing.assert_allclose(a.dimension_values("asd"), [2e-11, 1e-11])
    assert a.vdims[0].unit == "A/√Hz"
    opts = hv.Store.lookup_options("bokeh", plot, "plot").kwargs
    assert opts["logx"]
    assert opts["logy"]


def test_psd_mode_and_shape_check():
    plot = noise_psd([1.0, 2.0], {"A": [3.0, 4.0]}, amplitude=False)
    np.testing.assert_allclose(plot.values()[0].dimension_values("psd"), [3.0, 4.0])
    with pytest.raises(ValueError, match="channel 'A'"):
        noise_psd([1.0, 2.0], {"A": [3.0]})
