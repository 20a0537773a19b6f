"""Property-based checks of the optimal filter on drawn pulse sets (analysis_lib.testing)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis_lib.pulses.optimal_filter import OptimalFilter
from analysis_lib.testing import pulse_sets


@settings(max_examples=30, deadline=None, derandomize=True)
@given(ps=pulse_sets(noise=False))
def test_noise_free_pulses_are_recovered(ps):
    of = OptimalFilter(ps.template, ps.psd, fs_Hz=ps.fs_Hz)
    res = of.fit(ps.traces, window_samples=(-16, 16))
    big = np.abs(ps.amplitudes) > 1e-6
    np.testing.assert_array_equal(res.delay_samples[big], ps.delays_samples[big])
    np.testing.assert_allclose(res.amplitude, ps.amplitudes, rtol=1e-8, atol=1e-8)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(ps=pulse_sets(), a=st.floats(-10, 10), b=st.floats(-10, 10))
def test_fixed_delay_amplitude_is_linear_in_the_trace(ps, a, b):
    of = OptimalFilter(ps.template, ps.psd, fs_Hz=ps.fs_Hz)
    x, y = ps.traces, ps.traces[::-1]
    lhs = of.fit(a * x + b * y).amplitude
    rhs = a * of.fit(x).amplitude + b * of.fit(y).amplitude
    scale = np.abs(a * x).max() + np.abs(b * y).max() + 1.0
    np.testing.assert_allclose(lhs, rhs, atol=1e-9 * scale)
