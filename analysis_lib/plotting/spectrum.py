"""Energy spectrum in differential rate units (counts/keV/kg/day) with Poisson errors."""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np
from numpy.typing import ArrayLike

from .annotate import annotate

# Gehrels (1986), ApJ 303, 336, Table 1: the 1σ (84.13 %) upper limit on a Poisson mean
# given n = 0 observed counts is 1.841. Used as the upper error bar of empty bins so that
# "no events" is drawn as "compatible with up to ~1.8 events", not as an exact zero.
GEHRELS_UPPER_N0 = 1.841


def energy_spectrum(
    energy_keV: ArrayLike,
    *,
    bins: int | ArrayLike = 100,
    range_keV: tuple[float, float] | None = None,
    exposure_kg_day: float = 1.0,
    efficiency: float = 1.0,
    logx: bool = False,
    logy: bool = True,
    label: str = "data",
    lineage: Any = None,
    caption: str | None = None,
    **kwds: Any,
) -> hv.Overlay:
    """Histogram event energies as a differential rate with Poisson error bars.

    The rate in bin *i* is ``n_i / (Δ_i · exposure · efficiency)`` in counts/keV/kg/day,
    with error ``√n_i`` scaled the same way (Gehrels' 1.841 as the upper error of empty
    bins).

    Parameters
    ----------
    energy_keV
        Event energies in keV (1-D).
    bins
        Number of equal bins, or the bin edges in keV.
    range_keV
        ``(low, high)`` in keV when ``bins`` is a number; defaults to the data range.
    exposure_kg_day
        Exposure (target mass × live time) in kg·day; must be > 0.
    efficiency
        Constant signal efficiency in (0, 1] the rate is divided by.
    logx, logy
        Logarithmic axes.
    label
        Legend label of the spectrum.
    lineage, caption
        Passed to :func:`analysis_lib.plotting.annotate.annotate`.
    **kwds
        Further HoloViews options for the histogram (``color``, ``width``, ``xlim`` …).

    Returns
    -------
    holoviews.Overlay
        ``Histogram`` (kdim ``energy_keV``, vdim ``rate``) × ``ErrorBars`` (vdims ``rate``,
        ``rate_err_low``, ``rate_err_high``).
    """
    energy = np.asarray(energy_keV, dtype=float).ravel()
    if not exposure_kg_day > 0:
        raise ValueError(f"exposure_kg_day must be > 0, got {exposure_kg_day!r}")
    if not 0 < efficiency <= 1:
        raise ValueError(f"efficiency must be in (0, 1], got {efficiency!r}")
    finite = energy[np.isfinite(energy)]
    counts, edges = np.histogram(finite, bins=bins, range=range_keV)
    widths = np.diff(edges)
    scale = 1.0 / (widths * exposure_kg_day * efficiency)
    rate = counts * scale
    err_low = np.sqrt(counts) * scale
    err_high = np.where(counts > 0, np.sqrt(counts), GEHRELS_UPPER_N0) * scale
    centers = 0.5 * (edges[:-1] + edges[1:])

    kdim = hv.Dimension("energy_keV", label="Energy", unit="keV")
    vdim = hv.Dimension("rate", label="Rate", unit="counts/keV/kg/day")
    hist = hv.Histogram((edges, rate), kdims=[kdim], vdims=[vdim], label=label)
    bars = hv.ErrorBars(
        (centers, rate, err_low, err_high),
        kdims=[kdim],
        vdims=[vdim, "rate_err_low", "rate_err_high"],
        label=label,
    )
    overlay_opts: dict[str, Any] = {"logx": logx, "logy": logy, "show_legend": False}
    if logy and "ylim" not in kwds and np.any(rate > 0):
        # A log axis cannot show empty bins or zero-length error ends: start half a
        # decade-ish below the smallest non-zero rate.
        overlay_opts["ylim"] = (0.5 * rate[rate > 0].min(), 2.0 * (rate + err_high).max())
    hist.opts(logx=logx, logy=logy, fill_alpha=0.3, tools=["hover"], **kwds)
    bars.opts(logx=logx, logy=logy)
    overlay = (hist * bars).opts(**overlay_opts)
    if caption is None:
        caption = (
            f"Energy spectrum of {finite.size} events, {exposure_kg_day:g} kg·day exposure; "
            "error bars are Poisson (√n; Gehrels 1σ upper limit for empty bins)."
        )
    return annotate(overlay, lineage=lineage, caption=caption)
