"""Simple per-trace pulse features, batched over traces.

All features are computed on the baseline-subtracted trace ``y = v − (b0 + b1·t)``, where
the baseline line ``b0 + b1·t`` is the least-squares fit to the pre-trigger samples
``[0, pretrigger_samples)``. Threshold crossings are interpolated linearly between
samples, so rise and fall times are sub-sample.

Feature columns (``compute_features`` returns them as a dict of arrays):

``baseline_mean``      mean of the pre-trigger samples (trace units)
``baseline_slope_per_s`` slope of the pre-trigger line fit (trace units / s)
``peak_amplitude``     maximum of ``y`` after the pre-trigger region
``peak_time_s``        time of that maximum from the trace start
``integral``           ``Σ y · dt`` from the pre-trigger end to the trace end (units·s)
``rise_time_s``        10 % → 90 % of the peak on the leading edge
``fall_time_s``        peak → first crossing below peak/e after it (≈ the fall constant
                       for a two-exponential pulse with rise ≪ fall)
"""

from __future__ import annotations

import numpy as np

__all__ = ["FEATURE_COLUMNS", "compute_features"]

FEATURE_COLUMNS = (
    "baseline_mean",
    "baseline_slope_per_s",
    "peak_amplitude",
    "peak_time_s",
    "integral",
    "rise_time_s",
    "fall_time_s",
)


def _crossing_before(y: np.ndarray, level: np.ndarray, peak: np.ndarray) -> np.ndarray:
    """Fractional index where y last rises through ``level`` before ``peak`` (NaN if never)."""
    n = y.shape[-1]
    idx = np.arange(n)
    below = (y < level[:, None]) & (idx[None, :] < peak[:, None])
    has = below.any(axis=1)
    i = n - 1 - np.argmax(below[:, ::-1], axis=1)  # last sample below the level
    i1 = np.minimum(i + 1, n - 1)
    rows = np.arange(y.shape[0])
    y0, y1 = y[rows, i], y[rows, i1]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(y1 != y0, (level - y0) / (y1 - y0), 0.0)
    return np.where(has, i + np.clip(frac, 0, 1), np.nan)


def _crossing_after(y: np.ndarray, level: np.ndarray, peak: np.ndarray) -> np.ndarray:
    """Fractional index where y first falls through ``level`` after ``peak`` (NaN if never)."""
    n = y.shape[-1]
    idx = np.arange(n)
    below = (y < level[:, None]) & (idx[None, :] > peak[:, None])
    has = below.any(axis=1)
    i = np.argmax(below, axis=1)  # first sample below
    i0 = np.maximum(i - 1, 0)
    rows = np.arange(y.shape[0])
    y0, y1 = y[rows, i0], y[rows, i]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(y1 != y0, (y0 - level) / (y0 - y1), 0.0)
    return np.where(has, i0 + np.clip(frac, 0, 1), np.nan)


def compute_features(
    traces: np.ndarray, *, fs_Hz: float, pretrigger_samples: int
) -> dict[str, np.ndarray]:
    """Baseline, peak, integral, rise and fall time of each trace.

    Parameters
    ----------
    traces
        ``(n_traces, n_samples)`` single-channel traces (any real dtype).
    fs_Hz
        Sampling frequency.
    pretrigger_samples
        Samples before the pulse onset used for the baseline (≥ 2).

    Returns
    -------
    dict
        One float64 array of length ``n_traces`` per name in :data:`FEATURE_COLUMNS`.
        Rise/fall times are NaN where the trace never crosses the levels.
    """
    x = np.asarray(traces)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f"traces must be (n_traces, n_samples); got shape {x.shape}")
    n = x.shape[1]
    if not 2 <= pretrigger_samples < n - 1:
        raise ValueError(
            f"pretrigger_samples={pretrigger_samples} must be in [2, {n - 2}] for traces "
            f"of {n} samples"
        )
    if not fs_Hz > 0:
        raise ValueError(f"fs_Hz must be > 0, got {fs_Hz}")
    x = x.astype(np.float64, copy=False)
    dt = 1.0 / fs_Hz
    # least-squares line through the pre-trigger samples (closed form, centred abscissa)
    pre = x[:, :pretrigger_samples]
    t_pre = np.arange(pretrigger_samples) - (pretrigger_samples - 1) / 2.0
    mean = pre.mean(axis=1)
    slope_per_sample = (pre @ t_pre) / np.sum(t_pre**2)
    t_all = np.arange(n) - (pretrigger_samples - 1) / 2.0
    y = x - mean[:, None] - slope_per_sample[:, None] * t_all[None, :]
    post = y[:, pretrigger_samples:]
    peak_rel = np.argmax(post, axis=1)
    peak_idx = peak_rel + pretrigger_samples
    peak = post[np.arange(len(post)), peak_rel]
    rise_lo = _crossing_before(y, 0.1 * peak, peak_idx)
    rise_hi = _crossing_before(y, 0.9 * peak, peak_idx)
    fall = _crossing_after(y, peak / np.e, peak_idx)
    return {
        "baseline_mean": mean,
        "baseline_slope_per_s": slope_per_sample * fs_Hz,
        "peak_amplitude": peak,
        "peak_time_s": peak_idx * dt,
        "integral": post.sum(axis=1) * dt,
        "rise_time_s": (rise_hi - rise_lo) * dt,
        "fall_time_s": (fall - peak_idx) * dt,
    }
