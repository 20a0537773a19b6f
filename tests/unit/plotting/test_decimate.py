"""Min/max decimation keeps every extreme of the visible window, in time order."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from analysis_lib.plotting import minmax_decimate

FS = 1000.0


@settings(max_examples=60, deadline=None)
@given(
    y=arrays(np.float64, st.integers(1, 5000), elements=st.floats(-1e6, 1e6)),
    n_bins=st.integers(1, 300),
    lo=st.floats(-1, 6),
    width=st.floats(0, 6),
)
def test_output_is_a_time_ordered_subset_holding_the_window_extremes(y, n_bins, lo, width):
    t, v = minmax_decimate(
        y, sample_rate_Hz=FS, t0_s=0.0, n_bins=n_bins, x_range_s=(lo, lo + width)
    )
    assert t.shape == v.shape
    assert v.size <= max(2 * n_bins + 2, 2 * n_bins)
    assert np.all(np.diff(t) > 0)
    idx = np.rint(t * FS).astype(int)
    np.testing.assert_array_equal(v, y[idx])  # every output point is a real sample
    start = max(int(np.floor(lo * FS)), 0)
    stop = min(int(np.ceil((lo + width) * FS)) + 1, y.size)
    if stop > start:
        assert v.max() == y[start:stop].max()
        assert v.min() == y[start:stop].min()
    else:
        assert v.size == 0


def test_each_bin_contributes_its_min_and_max():
    y = np.tile([0.0, 5.0, -3.0, 1.0], 100)  # 400 samples, 100 bins of 4
    y[17] = 99.0
    _t, v = minmax_decimate(y, sample_rate_Hz=FS, n_bins=100)
    assert v.size == 200
    assert 99.0 in v
    np.testing.assert_array_equal(np.sort(v[:2]), [-3.0, 5.0])


def test_small_window_returns_raw_samples():
    y = np.arange(10_000, dtype=float)
    t, v = minmax_decimate(y, sample_rate_Hz=FS, n_bins=100, x_range_s=(1.0, 1.05))
    np.testing.assert_array_equal(v, y[1000:1051])
    np.testing.assert_allclose(t, v / FS)


@pytest.mark.parametrize(
    ("kw", "match"), [({"sample_rate_Hz": 0}, "sample_rate_Hz"), ({"n_bins": 0}, "n_bins")]
)
def test_bad_arguments_are_named(kw, match):
    args = {"sample_rate_Hz": FS, "n_bins": 10} | kw
    with pytest.raises(ValueError, match=match):
        minmax_decimate(np.zeros(10), **args)
