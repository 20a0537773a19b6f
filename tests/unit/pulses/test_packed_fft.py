"""The in-place packed (FFTPACK-layout) real FFT helpers equal numpy's rfft layout."""

from __future__ import annotations

import numpy as np
import pytest

from analysis_lib.pulses import _packed


@pytest.mark.parametrize("n", [8, 9, 1000, 1001])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_packed_spectra_convert_to_and_from_numpy_rfft(n, dtype):
    rng = np.random.default_rng(n)
    x = rng.normal(size=(3, 2, n)).astype(dtype)
    ref = np.fft.rfft(x.astype(np.float64), axis=-1)
    buf = x.copy()
    packed = _packed.rfft_inplace(buf)
    assert packed.shape == x.shape
    assert np.shares_memory(packed, buf)  # transformed in place: no new allocation
    tol = 1e-4 if dtype == np.float32 else 1e-12
    scale = np.abs(ref).max()
    np.testing.assert_allclose(_packed.packed_to_complex(packed), ref, atol=tol * scale)
    np.testing.assert_allclose(_packed.packed_to_complex(packed, 3), ref[..., :3], atol=tol * scale)
    np.testing.assert_allclose(
        _packed.interior(packed), ref[..., 1 : (n - 1) // 2 + 1], atol=tol * scale
    )
    np.testing.assert_allclose(
        _packed.power_from_packed(packed.astype(np.float64) ** 2),
        np.abs(ref) ** 2,
        rtol=1e-3 if dtype == np.float32 else 1e-9,
        atol=tol * scale**2,
    )
    # the packed layout of numpy's spectrum, transformed back in place, is the signal
    back = _packed.irfft_inplace(_packed.packed_from_complex(ref, n, np.float64))
    np.testing.assert_allclose(back, x, atol=1e-5 if dtype == np.float32 else 1e-12)
