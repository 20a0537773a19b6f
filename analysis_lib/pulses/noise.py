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

from collections.abc import Iterator

import numpy as np
import scipy.fft as sfft

from . import _packed

__all__ = ["calc_csd", "calc_psd", "fold_weights", "two_sided_psd"]

# rows (segments) transformed per FFT call: enough to amortise the call overhead, few
# enough that the block stays in L2 (2**19 samples = 2 MB in float32; measured on a 2-core
# EPYC: 8–32 rows of 32768 samples are equally good) and that the float32 sum over a
# block's rows (≤ 32 terms) keeps its rounding below 1e-6 relative.
_BLOCK_SAMPLES = 1 << 19
_BLOCK_ROWS = 32


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
        dt = np.dtype(dtype)
        if dt not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dt}")
        return dt
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


def _packed_spectra(x, n, noverlap, win, dt, detrend) -> Iterator[np.ndarray]:
    """Yield ``(rows, [n_ch,] n)`` blocks of packed (FFTPACK-layout) spectra of the
    detrended, windowed segments, one row per (trace, segment); at most ``_BLOCK_ROWS``
    rows per block. The blocks live in one reused buffer: consume each before the next.

    float32 path: each segment's baseline offset ``o`` (its rounded mean, from every 64th
    sample) is subtracted after converting — exact for integer ADC counts — and restored
    after the transform as ``X_k += o · W_k`` with ``W = rfft(window)`` computed in
    float64 (only the bins where ``W`` is not ~0: DC for no window, DC and bin 1 for
    Hann), so a large ADC baseline rounds only in those bins instead of spreading float32
    rounding errors over every bin. Blocks whose baselines all lie within 4 σ of zero
    (σ from the same samples) skip this pass: their rounding is at the noise's own level.
    """
    # (n_traces, n_seg, [n_ch,] n); without Welch segments each trace is one segment
    whole = n == x.shape[-1]
    segs = x[:, None] if whole else np.moveaxis(_segments(x, n, noverlap), -2, 1)
    n_tr, n_seg = segs.shape[:2]
    row_shape = segs.shape[2:]
    row_size = int(np.prod(row_shape))
    rows = int(np.clip(_BLOCK_SAMPLES // row_size, 1, _BLOCK_ROWS))
    bs = min(rows, n_seg)  # segments per block, and traces per block
    bt = max(1, rows // n_seg)
    buf = np.empty(bt * bs * row_size, dtype=dt)
    offset = dt == np.float32
    if offset and detrend is None:
        w_packed = _packed.packed_from_complex(
            sfft.rfft(np.ones(n) if win is None else win.astype(np.float64)), n
        )
        cols = np.flatnonzero(np.abs(w_packed) > 1e-9 * np.abs(w_packed).max())
        w_cols = w_packed[cols]
    for t in range(0, n_tr, bt):
        for s in range(0, n_seg, bs):
            src = segs[t : t + bt, s : s + bs]
            block = buf[: src.size].reshape(src.shape)
            np.copyto(block, src, casting="unsafe")
            shifted = False
            if offset:
                sample = src[..., ::64].astype(np.float64)
                o = sample.mean(axis=-1, keepdims=True)
                # a baseline within 4 σ of zero rounds like the noise itself: skip the pass
                shifted = not np.all(np.abs(o) <= 4 * sample.std(axis=-1, keepdims=True))
                if shifted:
                    if np.issubdtype(src.dtype, np.integer):
                        o = np.round(o)
                    # in place after the copy (a mixed-type subtract measured 4× slower);
                    # exact for integers: |x| and |o| < 2**24
                    block -= o.astype(dt)
            if detrend == "constant":
                block -= block.mean(axis=-1, keepdims=True)
            if win is not None:
                block *= win
            spec = _packed.rfft_inplace(block)
            if shifted and detrend is None:
                spec[..., cols] += (o * w_cols).astype(dt)
            yield spec.reshape(-1, *row_shape)


def _prepare(traces, fs_Hz, nperseg, overlap, window, detrend, dtype):
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
    dt = _float_dtype(x, dtype)
    return x, n, noverlap, None if win is None else win.astype(dt), wsum2, dt


def calc_psd(
    traces: np.ndarray,
    *,
    fs_Hz: float,
    nperseg: int | None = None,
    overlap: float = 0.5,
    window: str | np.ndarray | None = None,
    detrend: str | None = None,
    dtype=None,
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
        Precision of the FFTs: ``np.float32`` or ``np.float64``; the squares are summed
        over a block of ≤ 32 segments in this precision and across blocks in float64.
        Default (``None``): float32 for integer ADC input of ≤ 16 bits (held exactly by
        float32) and for float32 input, float64 otherwise. The float32 path is ~2× faster;
        it removes each segment's baseline offset exactly before the transform (see
        :func:`_packed_spectra`) and agrees with the float64 path and with
        ``qetpy.calc_psd`` to ~1e-6 relative per bin (asserted at 1e-5 in the tests), far
        below the PSD's statistical error ``1/sqrt(n_segments)``.

    Returns
    -------
    freqs_Hz, psd
        ``(n_freq,)`` and ``(n_freq,)`` or ``(n_channels, n_freq)``, float64.
    """
    x, n, noverlap, win, wsum2, dt = _prepare(
        traces, fs_Hz, nperseg, overlap, window, detrend, dtype
    )
    acc = np.zeros((*x.shape[1:-1], n))
    count = 0
    ones = np.ones(_BLOCK_ROWS, dtype=dt)
    for spec in _packed_spectra(x, n, noverlap, win, dt, detrend):
        sq = np.square(spec, out=spec)
        # Σ over ≤ _BLOCK_ROWS rows in dt (one BLAS call), across blocks in float64
        acc += (ones[: len(sq)] @ sq.reshape(len(sq), -1)).reshape(acc.shape)
        count += len(sq)
    psd = _packed.power_from_packed(acc) * (fold_weights(n) / (count * fs_Hz * wsum2))
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
) -> tuple[np.ndarray, np.ndarray]:
    """One-sided cross spectral density matrix ``(n_channels, n_channels, n_freq)``.

    ``csd[i, j] = c_k <X_i conj(X_j)> / (fs Σw²)``; the diagonal is :func:`calc_psd`'s
    PSD of each channel (options, including ``dtype``, as there; the same segment
    spectra feed both). Input ``(n_traces, n_channels, n_samples)``.
    """
    x, n, noverlap, win, wsum2, dt = _prepare(
        traces, fs_Hz, nperseg, overlap, window, detrend, dtype
    )
    if x.ndim != 3:
        raise ValueError(f"calc_csd needs (n_traces, n_channels, n_samples); got {x.shape}")
    acc = None
    count = 0
    for spec in _packed_spectra(x, n, noverlap, win, dt, detrend):
        z = _packed.packed_to_complex(spec)  # (rows, n_ch, n_freq)
        s = np.einsum("bif,bjf->ijf", z, z.conj()).astype(np.complex128)
        acc = s if acc is None else acc + s
        count += len(z)
    csd = acc * (fold_weights(n) / (count * fs_Hz * wsum2))
    return np.fft.rfftfreq(n, d=1.0 / fs_Hz), csd
