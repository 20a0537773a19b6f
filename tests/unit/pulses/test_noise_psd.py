"""Noise PSD/CSD: textbook normalisation, Welch averaging, QETpy and scipy agreement."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from analysis_lib.pulses.noise import calc_csd, calc_psd, fold_weights, two_sided_psd
from analysis_lib.pulses.simulate import generate_noise, noise_psd_model

FS = 625e3


def test_psd_of_white_noise_has_the_textbook_level():
    # white noise of variance σ² has one-sided PSD 2σ²/fs
    rng = np.random.default_rng(0)
    x = rng.normal(scale=3.0, size=(400, 512))
    _, psd = calc_psd(x, fs_Hz=FS)
    assert np.mean(psd[1:-1]) == pytest.approx(2 * 9.0 / FS, rel=0.01)
    assert np.mean(psd[[0, -1]]) == pytest.approx(9.0 / FS, rel=0.1)


def test_psd_matches_qetpy_folded_psd(qetpy):
    n = 1024
    x = generate_noise(noise_psd_model(n), 40, n_samples=n, rng=1)
    f, psd = calc_psd(x, fs_Hz=FS)
    fq, pq = qetpy.calc_psd(x, fs=FS, folded_over=True)
    np.testing.assert_allclose(f, fq)
    np.testing.assert_allclose(psd, pq, rtol=1e-12)
    # and the unfolded layout is QETpy's two-sided PSD
    _, p2 = qetpy.calc_psd(x, fs=FS, folded_over=False)
    np.testing.assert_allclose(two_sided_psd(psd, n), p2, rtol=1e-12)


@pytest.mark.parametrize("detrend", [None, "constant"])
def test_welch_matches_scipy(detrend):
    n = 4096
    x = generate_noise(noise_psd_model(n), 6, n_samples=n, rng=2)
    _, psd = calc_psd(x, fs_Hz=FS, nperseg=512, window="hann", detrend=detrend)
    _, ref = scipy.signal.welch(
        x, fs=FS, nperseg=512, window="hann", detrend=detrend or False, axis=-1
    )
    np.testing.assert_allclose(psd, ref.mean(axis=0), rtol=1e-10)


def test_welch_of_a_long_trace_recovers_the_model():
    n_seg, n_long = 1024, 1024 * 200
    kw = {"white_per_Hz": 1e-2, "one_over_f_at_1Hz_per_Hz": 1.0, "lines": ()}
    x = generate_noise(noise_psd_model(n_long, **kw), 1, n_samples=n_long, rng=3)
    _, psd = calc_psd(x, fs_Hz=FS, nperseg=n_seg, window="hann")
    model = noise_psd_model(n_seg, **kw)
    # away from the lowest bins (where the Hann window leaks the 1/f slope) within 3 %
    assert np.median(psd[8:-2] / model[8:-2]) == pytest.approx(1.0, abs=0.03)


def test_csd_is_hermitian_matches_scipy_and_has_psd_diagonal():
    n = 512
    psd = noise_psd_model(n)
    csd_in = np.zeros((2, 2, n // 2 + 1))
    csd_in[0, 0], csd_in[1, 1] = psd, psd
    csd_in[0, 1] = csd_in[1, 0] = 0.5 * psd
    y = generate_noise(csd_in, 30, n_samples=n, rng=4)
    _, csd = calc_csd(y, fs_Hz=FS)
    _, psd_est = calc_psd(y, fs_Hz=FS)
    np.testing.assert_allclose(np.diagonal(csd).T.real, psd_est, rtol=1e-12)
    np.testing.assert_allclose(csd[0, 1], np.conj(csd[1, 0]))
    # scipy's csd(x, y) is E[conj(X) Y]; ours is csd[i, j] = E[X_i conj(X_j)]
    _, ref = scipy.signal.csd(
        y[:, 1], y[:, 0], fs=FS, nperseg=n, window="boxcar", detrend=False, axis=-1
    )
    np.testing.assert_allclose(csd[0, 1], ref.mean(axis=0), rtol=1e-10)


def _textbook_psd(x, fs, n_seg=None, window=None):
    """Direct float64 periodogram average: c_k |DFT(w·x)|² / (fs Σw²) over segments."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1] if n_seg is None else n_seg
    segs = x[..., None, :] if n_seg is None else x.reshape(*x.shape[:-1], -1, n)
    w = np.ones(n) if window is None else window
    k = np.arange(n // 2 + 1)[:, None]
    dft = np.exp(-2j * np.pi * k * np.arange(n)[None, :] / n)  # textbook DFT matrix
    power = np.abs((segs * w) @ dft.T) ** 2
    return fold_weights(n) * power.mean(axis=(0, 1)) / (fs * np.sum(w**2))


@pytest.mark.parametrize("n", [1000, 1001])
def test_float32_path_on_adc_counts_with_a_large_baseline_agrees_per_bin(n, qetpy):
    # 14-bit-like ADC counts sitting on a baseline of 20000 counts: the float32 path (the
    # default for int16) must agree with the float64 path, a textbook DFT and QETpy to
    # 1e-5 relative in every bin — the offset must not leak float32 rounding into the
    # small high-frequency bins.
    noise = generate_noise(noise_psd_model(n), 24, n_samples=n, rng=5)
    x = (np.round(noise) + 20000).astype(np.int16)
    _, p32 = calc_psd(x, fs_Hz=FS)
    _, p64 = calc_psd(x, fs_Hz=FS, dtype=np.float64)
    _, pq = qetpy.calc_psd(x, fs=FS, folded_over=True)
    ref = _textbook_psd(x, FS)
    assert p32.dtype == np.float64
    np.testing.assert_allclose(p64, ref, rtol=1e-8)  # the DFT matrix rounds at ~1e-10
    np.testing.assert_allclose(p32, p64, rtol=1e-5)
    np.testing.assert_allclose(p32, pq, rtol=1e-5)
    # the offset really is large: without its exact removal float32 could not do this
    assert np.max(ref) > 1e6 * np.min(ref)


@pytest.mark.parametrize("n_seg", [256, 255])
def test_float32_welch_with_hann_window_and_offset_agrees_with_textbook(n_seg):
    n_seg_total = 6
    noise = generate_noise(noise_psd_model(n_seg * n_seg_total), 3, n_samples=n_seg * 6, rng=6)
    x = (np.round(noise) - 5000).astype(np.int16)
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_seg) / n_seg)
    _, p32 = calc_psd(x, fs_Hz=FS, nperseg=n_seg, overlap=0.0, window="hann")
    ref = _textbook_psd(x, FS, n_seg=n_seg, window=win)
    np.testing.assert_allclose(p32, ref, rtol=1e-5)


def test_csd_float32_and_float64_paths_agree_with_textbook_cross_spectrum():
    n = 300
    y = np.round(generate_noise(noise_psd_model(n), 20, n_samples=n, rng=7)) + 300.0
    y = np.stack([y, 0.5 * y + 1.0 * np.arange(n)], axis=1).astype(np.float32)
    spec = np.fft.rfft(y.astype(np.float64), axis=-1)
    ref = np.einsum("bif,bjf->ijf", spec, spec.conj()) / len(y) * fold_weights(n) / (FS * n)
    for dtype in (np.float32, np.float64):
        _, csd = calc_csd(y, fs_Hz=FS, dtype=dtype)
        scale = np.sqrt(np.abs(ref[0, 0] * ref[1, 1]))  # cross terms relative to the PSDs
        np.testing.assert_array_less(
            np.abs(csd - ref) / scale, 1e-5 if dtype is np.float32 else 1e-12
        )


def test_fold_weights():
    np.testing.assert_array_equal(fold_weights(6), [1, 2, 2, 1])
    np.testing.assert_array_equal(fold_weights(7), [1, 2, 2, 2])


@pytest.mark.parametrize(
    ("traces", "kwargs", "match"),
    [
        (np.zeros((0, 64)), {}, "no noise traces"),
        (np.zeros(64), {}, "n_traces"),
        (np.zeros((2, 64)), {"nperseg": 128}, "nperseg"),
        (np.zeros((2, 64)), {"window": "flattop"}, "window"),
        (np.zeros((2, 64)), {"dtype": np.float16}, "dtype"),
    ],
)
def test_bad_input_is_refused(traces, kwargs, match):
    with pytest.raises(ValueError, match=match):
        calc_psd(traces, fs_Hz=FS, **kwargs)
