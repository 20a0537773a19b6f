"""Noise power and cross spectral densities from noise traces (one-sided, trace²/Hz).

Conventions (shared with :mod:`analysis_lib.pulses.simulate`): for the unnormalised DFT
``X_k`` of an ``N``-sample trace sampled at ``fs``, the one-sided periodogram is
``J_k = c_k |X_k|² / (N fs)`` with ``c_k = 1`` at DC and (even ``N``) Nyquist and
``c_k = 2`` elsewhere, so that ``sum(J) * fs / N`` is the trace variance (Parseval).
With a window ``w`` the denominator becomes ``fs · Σw²`` (Welch 1967, IEEE Trans. Audio
Electroacoust. 15, 70; Heinzel, Rüdiger & Schilling 2002, "Spectrum and spectral density
estimation by the DFT", eq. 24). The cross spectral density is
``J_ij,k = c_k X_i,k conj(X_j,k) / (N fs)`` (Hermitian in ``i, j``).

This is the folded PSD of QETpy's ``calc_psd(..., folded_over=True)`` and the
``scaling='density'`` output of :func:`scipy.signal.welch`.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft

__all__ = ["calc_csd", "calc_psd", "fold_weights", "two_sided_psd"]

# traces transformed per FFT call: large enough to amortise call overhead, small enough
# that the spectra stay in cache (measured on a 2-core EPYC: 8–32 are equally good).
_BLOCK_TRACES = 16


def fold_weights(n_samples: int) -> np.ndarray:
    """``c_k``: 1 at DC and Nyquist, 2 elsewhere (rfft bins of an ``n_samples`` trace)."""
    c = np.full(n_samples // 2 + 1, 2.0)
    c[0] = 1.0
    if n_samples % 2 == 0:
        c[-1] = 1.0
    return c


def two_sided_psd(psd_one_sided: np.ndarray, n_samples: int) -> np.ndarray:
    """Unfold a one-sided PSD to QETpy's two-sided layout (``numpy.fft.fftfreq`` order)."""
    psd = np.asarray(psd_one_sided) / fold_weights(n_samples)
    n_neg = n_samples - psd.shape[-1]
    return np.concatenate([psd, psd[..., 1 : 1 + n_neg][..., ::-1]], axis=-1)


def _float_dtype(x: np.ndarray, dtype) -> np.dtype:
    if dtype is not None:
        return np.dtype(dtype)
    return (
        np.dtype(np.float32)
        if x.dtype in (np.float32, np.int8, np.int16, np.uint8, np.uint16)
        else np.dtype(np.float64)
    )


def _segments(x: np.ndarray, nperseg: int, noverlap: int) -> np.ndarray:
    """(…, n_seg, nperseg) view of overlapping segments along the last axis."""
    step = nperseg - noverlap
    n_seg = (x.shape[-1] - noverlap) // step
    view = np.lib.stride_tricks.sliding_window_view(x, nperseg, axis=-1)
    return view[..., : n_seg * step : step, :]


def _spectra_blocks(x, nperseg, noverlap, window, dtype, detrend, workers):
    """Yield windowed rfft spectra in blocks, shape (b, …, n_freq)."""
    if nperseg is None or nperseg == x.shape[-1]:
        segs = x[:, None]  # (n_traces, 1, [n_ch,] N): one segment per trace
    else:  # (n_traces, n_seg, [n_ch,] nperseg)
        segs = np.moveaxis(_segments(x, nperseg, noverlap), -2, 1)
    for i in range(0, segs.shape[0], _BLOCK_TRACES):
        block = segs[i : i + _BLOCK_TRACES]
        fresh = block.dtype != dtype or detrend is not None or window is not None
        block = block.astype(dtype, copy=False)
        if detrend == "constant":
            block = block - block.mean(axis=-1, keepdims=True)
        if window is not None:
            block = block * window
        # overwrite only our own temporaries, never the caller's traces
        spec = sfft.rfft(block, axis=-1, workers=workers, overwrite_x=fresh)
        yield spec.reshape((-1, *spec.shape[2:]))


def _prepare(traces, fs_Hz, nperseg, overlap, window, detrend):
    x = np.asarray(traces)
    if x.ndim not in (2, 3):
        raise ValueError(
            f"traces must be (n_traces, n_samples) or (n_traces, n_channels, n_samples); "
            f"got shape {x.shape}"
        )
    if x.shape[0] == 0 or x.shape[-1] == 0:
        raise ValueError(f"no noise traces to average (shape {x.shape})")
    if not fs_Hz > 0:
        raise ValueError(f"fs_Hz must be > 0, got {fs_Hz}")
    n = x.shape[-1] if nperseg is None else int(nperseg)
    if not 2 <= n <= x.shape[-1]:
        raise ValueError(f"nperseg={nperseg} must be between 2 and the trace length {x.shape[-1]}")
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    if detrend not in (None, "constant"):
        raise ValueError(f"detrend must be None or 'constant', got {detrend!r}")
    noverlap = round(overlap * n) if nperseg is not None else 0
    if window is None:
        win = None
    elif isinstance(window, str):
        if window not in ("hann", "boxcar"):
            raise ValueError(f"window must be 'hann', 'boxcar' or an array, got {window!r}")
        # periodic (DFT-even) Hann, as scipy.signal.get_window('hann', n) returns
        win = None if window == "boxcar" else 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
    else:
        win = np.asarray(window, dtype=np.float64)
        if win.shape != (n,):
            raise ValueError(f"window has shape {win.shape}, segments have {n} samples")
    wsum2 = float(n) if win is None else float(np.sum(win**2))
    return x, n, noverlap, win, wsum2


def calc_psd(
    traces: np.ndarray,
    *,
    fs_Hz: float,
    nperseg: int | None = None,
    overlap: float = 0.5,
    window: str | np.ndarray | None = None,
    detrend: str | None = None,
    dtype=None,
    workers: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """One-sided noise PSD averaged over traces (and Welch segments), trace²/Hz.

    Parameters
    ----------
    traces
        ``(n_traces, n_samples)`` or ``(n_traces, n_channels, n_samples)`` noise traces
        (integer ADC counts or floats).
    fs_Hz
        Sampling frequency.
    nperseg
        Welch segment length (samples). ``None`` (default): each whole trace is one segment,
        the PSD the optimal filter needs for traces of that length.
    overlap
        Fraction of ``nperseg`` by which Welch segments overlap (ignored without ``nperseg``).
    window
        ``None``/``'boxcar'`` (default without ``nperseg``), ``'hann'`` or an array. Give
        ``'hann'`` with ``nperseg`` for the usual Welch estimate.
    detrend
        ``None`` or ``'constant'`` (subtract each segment's mean).
    dtype
        Computation precision; default float32 for integer ADC input of ≤ 16 bits and for
        float32 input (the PSD estimate's statistical error is far above float32 rounding),
        float64 otherwise.

    Returns
    -------
    freqs_Hz, psd
        ``(n_freq,)`` and ``(n_freq,)`` or ``(n_channels, n_freq)``, float64.
    """
    x, n, noverlap, win, wsum2 = _prepare(traces, fs_Hz, nperseg, overlap, window, detrend)
    dt = _float_dtype(x, dtype)
    acc = None
    count = 0
    if win is not None:
        win = win.astype(dt)
    for spec in _spectra_blocks(x, nperseg, noverlap, win, dt, detrend, workers):
        p = np.square(spec.real, dtype=np.float64 if dt == np.float64 else None)
        p += np.square(spec.imag)
        s = p.sum(axis=0, dtype=np.float64)
        acc = s if acc is None else acc + s
        count += spec.shape[0]
    psd = acc * (fold_weights(n) / (count * fs_Hz * wsum2))
    return np.fft.rfftfreq(n, d=1.0 / fs_Hz), psd


def calc_csd(
    traces: np.ndarray,
    *,
    fs_Hz: float,
    nperseg: int | None = None,
    overlap: float = 0.5,
    window: str | np.ndarray | None = None,
    detrend: str | None = None,
    dtype=None,
    workers: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """One-sided cross spectral density matrix ``(n_channels, n_channels, n_freq)``.

    ``csd[i, j] = c_k <X_i conj(X_j)> / (fs Σw²)``; the diagonal is :func:`calc_psd`'s
    PSD of each channel (options as there). Input ``(n_traces, n_channels, n_samples)``.
    """
    x, n, noverlap, win, wsum2 = _prepare(traces, fs_Hz, nperseg, overlap, window, detrend)
    if x.ndim != 3:
        raise ValueError(f"calc_csd needs (n_traces, n_channels, n_samples); got {x.shape}")
    dt = _float_dtype(x, dtype)
    if win is not None:
        win = win.astype(dt)
    acc = None
    count = 0
    for spec in _spectra_blocks(x, nperseg, noverlap, win, dt, detrend, workers):
        s = np.einsum("bif,bjf->ijf", spec, spec.conj()).astype(np.complex128)
        acc = s if acc is None else acc + s
        count += spec.shape[0]
    csd = acc * (fold_weights(n) / (count * fs_Hz * wsum2))
    return np.fft.rfftfreq(n, d=1.0 / fs_Hz), csd
