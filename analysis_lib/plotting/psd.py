"""Noise power spectral density per channel, log-log."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import holoviews as hv
import numpy as np
from numpy.typing import ArrayLike

from .annotate import annotate


def noise_psd(
    freq_Hz: ArrayLike,
    psd: ArrayLike | Mapping[str, ArrayLike],
    *,
    channels: list[str] | None = None,
    unit: str = "A",
    amplitude: bool = True,
    lineage: Any = None,
    caption: str | None = None,
    **kwds: Any,
) -> hv.Overlay:
    """Plot one-sided noise PSDs of several channels on log-log axes.

    Parameters
    ----------
    freq_Hz
        Frequencies in Hz (1-D); the DC bin (0 Hz) and non-positive values are dropped,
        since they cannot be drawn on a log axis.
    psd
        One-sided PSD in ``unit²/Hz``: array ``(n_channels, n_freq)`` (or 1-D), or a mapping
        channel → array.
    channels
        Channel names for array input (default ``ch0`` …).
    unit
        Unit of the underlying signal (``"A"`` for TES current).
    amplitude
        Plot the amplitude spectral density ``√PSD`` in ``unit/√Hz`` (the usual noise
        figure) instead of the PSD in ``unit²/Hz``.
    lineage, caption
        Passed to :func:`analysis_lib.plotting.annotate.annotate`.
    **kwds
        Further ``Curve`` options.

    Returns
    -------
    holoviews.Overlay
        One ``Curve`` per channel (kdim ``frequency_Hz``, vdim ``asd`` or ``psd``).
    """
    f = np.asarray(freq_Hz, dtype=float)
    if isinstance(psd, Mapping):
        rows = {str(k): np.asarray(v, dtype=float) for k, v in psd.items()}
    else:
        a = np.atleast_2d(np.asarray(psd, dtype=float))
        names = channels or [f"ch{i}" for i in range(a.shape[0])]
        if len(names) != a.shape[0]:
            raise ValueError(f"psd has {a.shape[0]} channels but {len(names)} names were given")
        rows = dict(zip(names, a, strict=True))
    keep = f > 0
    kdim = hv.Dimension("frequency_Hz", label="Frequency", unit="Hz")
    if amplitude:
        vdim = hv.Dimension("asd", label="Noise ASD", unit=f"{unit}/√Hz")
    else:
        vdim = hv.Dimension("psd", label="Noise PSD", unit=f"{unit}²/Hz")
    curves = []
    for name, p in rows.items():
        if p.shape != f.shape:
            raise ValueError(f"psd of channel {name!r} has shape {p.shape}, freq_Hz {f.shape}")
        y = np.sqrt(p[keep]) if amplitude else p[keep]
        curves.append(hv.Curve((f[keep], y), kdims=[kdim], vdims=[vdim], label=name).opts(**kwds))
    overlay = hv.Overlay(curves).opts(logx=True, logy=True, legend_position="right")
    if caption is None:
        kind = "amplitude spectral density" if amplitude else "power spectral density"
        caption = f"Noise {kind} of {len(curves)} channel(s), one-sided."
    return annotate(overlay, lineage=lineage, caption=caption)
