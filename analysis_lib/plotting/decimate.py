"""Min/max decimation of uniformly sampled traces, for drawing seconds of data as pixels."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def minmax_decimate(
    samples: ArrayLike,
    *,
    sample_rate_Hz: float,
    t0_s: float = 0.0,
    n_bins: int = 2000,
    x_range_s: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Reduce a uniformly sampled trace to the minimum and maximum of each of ``n_bins`` bins.

    Drawing the min and max of every pixel-wide bin, in time order, keeps every spike and
    the envelope exactly as a full-resolution line would show them at that width. When the
    visible window holds fewer than ``2 · n_bins`` samples, the raw samples are returned.

    Parameters
    ----------
    samples
        Trace values (1-D), sample *k* taken at ``t0_s + k / sample_rate_Hz``.
    sample_rate_Hz
        Sampling rate in Hz (> 0).
    t0_s
        Time of the first sample in s.
    n_bins
        Number of output bins (about the plot width in pixels); ≥ 1.
    x_range_s
        Visible time window ``(start, end)`` in s; the whole trace when ``None``.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Times in s and values: up to two points per bin (at the times of the bin's min and
        max, strictly increasing in time), or the raw samples of the window.
    """
    y = np.asarray(samples)
    if y.ndim != 1:
        raise ValueError(f"samples must be 1-D, got shape {y.shape}")
    if not sample_rate_Hz > 0:
        raise ValueError(f"sample_rate_Hz must be > 0, got {sample_rate_Hz!r}")
    if n_bins < 1:
        raise ValueError(f"n_bins must be ≥ 1, got {n_bins!r}")
    dt = 1.0 / sample_rate_Hz
    start, stop = 0, y.size
    if x_range_s is not None:
        lo, hi = sorted(float(v) for v in x_range_s)
        # One sample beyond each edge so the line reaches the borders of the window.
        start = max(int(np.floor((lo - t0_s) * sample_rate_Hz)), 0)
        stop = min(int(np.ceil((hi - t0_s) * sample_rate_Hz)) + 1, y.size)
        stop = max(stop, start)
    window = y[start:stop]
    n = window.size
    if n <= 2 * n_bins:
        return t0_s + (start + np.arange(n)) * dt, window.copy()
    per_bin = n // n_bins
    used = per_bin * n_bins
    blocks = window[:used].reshape(n_bins, per_bin)
    imin = blocks.argmin(axis=1)
    imax = blocks.argmax(axis=1)
    first = np.minimum(imin, imax)
    second = np.maximum(imin, imax)
    base = start + np.arange(n_bins) * per_bin
    idx = np.empty(2 * n_bins + (2 if used < n else 0), dtype=np.int64)
    idx[0 : 2 * n_bins : 2] = base + first
    idx[1 : 2 * n_bins : 2] = base + second
    if used < n:  # the remainder (< per_bin samples) forms one last, shorter bin
        tail = window[used:]
        a, b = sorted((int(tail.argmin()), int(tail.argmax())))
        idx[-2:] = (start + used + a, start + used + b)
    idx = np.unique(idx)  # a flat bin has min and max at one sample: keep it once
    return t0_s + idx * dt, y[idx]
