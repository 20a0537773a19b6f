"""Pulse features against the analytic two-exponential pulse."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from analysis_lib.pulses.features import FEATURE_COLUMNS, compute_features
from analysis_lib.pulses.simulate import pulse_shape

FS = 625e3
RISE, FALL = 20e-6, 300e-6


def analytic_crossing(level: float, rising: bool) -> float:
    t_peak = RISE * FALL / (FALL - RISE) * np.log(FALL / RISE)
    f = lambda t: pulse_shape(np.array([t]), t0_s=0.0, rise_s=RISE, fall_s=FALL)[0] - level  # noqa: E731
    return brentq(f, 1e-12, t_peak) if rising else brentq(f, t_peak, 50 * FALL)


def test_features_of_a_noise_free_pulse_on_a_sloped_baseline():
    n, pre = 8192, 1000
    t = np.arange(n) / FS
    onset = pre / FS
    amp, offset, slope = 40.0, 123.0, -250.0  # units, units/s
    v = amp * pulse_shape(t, t0_s=onset, rise_s=RISE, fall_s=FALL) + offset + slope * t
    f = compute_features(np.stack([v, v]), fs_Hz=FS, pretrigger_samples=pre)
    assert set(f) == set(FEATURE_COLUMNS)
    # the baseline fit is exact for a line; its mean is the line at the pre-trigger centre
    assert f["baseline_slope_per_s"][0] == pytest.approx(slope, rel=1e-9)
    assert f["baseline_mean"][0] == pytest.approx(offset + slope * (pre - 1) / 2 / FS, rel=1e-12)
    assert f["peak_amplitude"][0] == pytest.approx(amp, rel=1e-3)
    t_peak = RISE * FALL / (FALL - RISE) * np.log(FALL / RISE)
    assert f["peak_time_s"][0] == pytest.approx(onset + t_peak, abs=1 / FS)
    rise = analytic_crossing(0.9, True) - analytic_crossing(0.1, True)
    assert f["rise_time_s"][0] == pytest.approx(rise, abs=0.5 / FS)
    fall = analytic_crossing(np.exp(-1), False) - t_peak
    assert f["fall_time_s"][0] == pytest.approx(fall, rel=0.01)
    # ∫ of the unit-peak two-exponential is (FALL - RISE) / peak value (truncated tail ≪ 1e-6)
    peak = np.exp(-t_peak / FALL) - np.exp(-t_peak / RISE)
    assert f["integral"][0] == pytest.approx(amp * (FALL - RISE) / peak, rel=2e-3)


def test_flat_trace_has_nan_times_not_errors():
    f = compute_features(np.zeros((3, 64)), fs_Hz=FS, pretrigger_samples=16)
    assert np.all(f["peak_amplitude"] == 0)
    assert np.all(np.isnan(f["rise_time_s"]))


@pytest.mark.parametrize("pre", [0, 1, 63, 64])
def test_bad_pretrigger_is_refused(pre):
    with pytest.raises(ValueError, match="pretrigger_samples"):
        compute_features(np.zeros((1, 64)), fs_Hz=FS, pretrigger_samples=pre)
