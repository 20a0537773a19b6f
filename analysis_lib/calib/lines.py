"""Find and fit known spectral lines: Gaussian peak on a linear background.

The fit is a binned extended Poisson maximum-likelihood fit (Baker & Cousins 1984,
NIM 221, 437; iminuit's ``ExtendedBinnedNLL``) of the expected counts per bin, computed
exactly from the model's cumulative distribution (no bin-centre approximation):

    μ_i = N_s [Φ((x_{i+1}−μ)/σ) − Φ((x_i−μ)/σ)] + ∫_{x_i}^{x_{i+1}} (b0 + b1 (x − x_c)) dx

with ``Φ`` the standard normal CDF, ``x_c`` the fit window centre, ``b0`` in counts per
unit of ``x``. Uncertainties are HESSE (parabolic) errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.signal import find_peaks
from scipy.special import ndtr

__all__ = ["LineFit", "find_line_candidates", "fit_line"]


@dataclass(frozen=True)
class LineFit:
    """Result of :func:`fit_line` (units of the fitted variable ``x``)."""

    mean: float
    mean_err: float
    sigma: float
    sigma_err: float
    n_signal: float
    n_signal_err: float
    background_per_unit: float
    background_slope: float
    window: tuple[float, float]
    n_bins: int
    n_events: int
    valid: bool
    nll_deviance: float
    ndof: int

    def to_dict(self) -> dict:
        d = asdict(self)
        d["window"] = list(self.window)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> LineFit:
        return cls(**{**d, "window": tuple(d["window"])})


def find_line_candidates(
    values: np.ndarray, *, n_lines: int, bins: int = 400, range_: tuple[float, float] | None = None
) -> np.ndarray:
    """Positions of the ``n_lines`` most prominent peaks of the histogram of ``values``,
    sorted ascending (a starting point for :func:`fit_line`)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError("no finite values to search for lines")
    counts, edges = np.histogram(x, bins=bins, range=range_)
    smooth = np.convolve(counts, np.ones(3) / 3, mode="same")
    peaks, props = find_peaks(smooth, prominence=max(3.0, np.sqrt(smooth.max())))
    if peaks.size < n_lines:
        raise ValueError(f"found {peaks.size} peak(s), {n_lines} requested")
    best = peaks[np.argsort(props["prominences"])[::-1][:n_lines]]
    return np.sort(0.5 * (edges[best] + edges[best + 1]))


def fit_line(
    values: np.ndarray,
    *,
    window: tuple[float, float],
    n_bins: int = 60,
    mean_guess: float | None = None,
    sigma_guess: float | None = None,
) -> LineFit:
    """Fit one Gaussian line on a linear background in ``window`` (binned Poisson ML).

    Parameters
    ----------
    values
        Event values (OF amplitudes, or energies).
    window
        ``(low, high)`` fit range in the units of ``values``.
    n_bins
        Histogram bins in the window.
    mean_guess, sigma_guess
        Starting values (default: the window's highest bin; a tenth of the window).

    Raises
    ------
    ValueError
        If the window is empty or inverted, or holds fewer than 10 events.
    """
    from iminuit import Minuit
    from iminuit.cost import ExtendedBinnedNLL

    lo, hi = (float(v) for v in window)
    if not hi > lo:
        raise ValueError(f"window {window}: high must be above low")
    x = np.asarray(values, dtype=np.float64)
    x = x[(x >= lo) & (x < hi)]
    if x.size < 10:
        raise ValueError(f"only {x.size} events in the window {window}: need ≥ 10 to fit")
    counts, edges = np.histogram(x, bins=n_bins, range=(lo, hi))
    centre = 0.5 * (lo + hi)
    width = hi - lo

    def scaled_cdf(xe, n_s, mu, sigma, b0, b1):
        u = xe - centre
        return n_s * ndtr((xe - mu) / sigma) + b0 * u + 0.5 * b1 * u**2

    mu0 = (
        mean_guess
        if mean_guess is not None
        else 0.5 * (edges[np.argmax(counts)] + edges[np.argmax(counts) + 1])
    )
    sig0 = sigma_guess if sigma_guess is not None else width / 10
    b_guess = max(0.5 * (counts[:3].mean() + counts[-3:].mean()), 0.1) / (width / n_bins)
    cost = ExtendedBinnedNLL(counts, edges, scaled_cdf)
    m = Minuit(cost, n_s=max(x.size - b_guess * width, 1.0), mu=mu0, sigma=sig0, b0=b_guess, b1=0.0)
    m.limits["n_s"] = (0, None)
    m.limits["mu"] = (lo, hi)
    m.limits["sigma"] = (width / n_bins / 10, width)
    m.limits["b0"] = (0, None)
    m.migrad()
    m.hesse()
    return LineFit(
        mean=float(m.values["mu"]),
        mean_err=float(m.errors["mu"]),
        sigma=float(m.values["sigma"]),
        sigma_err=float(m.errors["sigma"]),
        n_signal=float(m.values["n_s"]),
        n_signal_err=float(m.errors["n_s"]),
        background_per_unit=float(m.values["b0"]),
        background_slope=float(m.values["b1"]),
        window=(lo, hi),
        n_bins=n_bins,
        n_events=int(x.size),
        valid=bool(m.valid),
        nll_deviance=float(m.fval),
        ndof=int(n_bins - 5),
    )


def fit_lines(
    values: np.ndarray,
    *,
    guesses: Sequence[float],
    half_width: float | Sequence[float],
    n_bins: int = 60,
) -> list[LineFit]:
    """:func:`fit_line` around each guess with windows ``guess ± half_width``."""
    hw = np.broadcast_to(np.asarray(half_width, dtype=float), (len(guesses),))
    return [
        fit_line(values, window=(g - h, g + h), n_bins=n_bins, mean_guess=g, sigma_guess=h / 5)
        for g, h in zip(guesses, hw, strict=True)
    ]
