"""Yellin's maximum-gap and optimum-interval upper limits (S. Yellin, PRD 66 (2002) 032005).

For an unknown background, the events are ordered in a variable (e.g. energy) in which the
signal's expected distribution is known. With μ the total expected signal and x the
expected signal in the largest gap between neighbouring events (including the ends), the
probability that the maximum gap is smaller than x is (Yellin eq. 2)

    C₀(x, μ) = Σ_{k=0}^{m} (k x − μ)^k e^{−k x} / k! · (1 + k / (μ − k x)),  m = ⌊μ/x⌋.

The upper limit at confidence CL is the μ for which C₀(x(μ), μ) = CL, where x(μ) scales
with μ (the gap's fraction of the spectrum is fixed by the data). With no events the gap is
the whole range and the limit is the Poisson 2.303 (90 % CL).

The optimum-interval method (Yellin sec. III) uses C_n(x, μ) for intervals containing n
events, tabulated by Monte Carlo: :func:`optimum_interval_upper_limit` builds that table
on the fly (seeded, so results are reproducible).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.optimize import brentq
from scipy.special import gammaln

__all__ = [
    "max_gap_c0",
    "max_gap_upper_limit",
    "optimum_interval_upper_limit",
    "spectrum_fractions",
]


def max_gap_c0(x: float, mu: float) -> float:
    """C₀(x, μ): probability that the maximum gap is smaller than x (Yellin 2002 eq. 2)."""
    if x <= 0:
        return 0.0
    if x >= mu:
        return 1.0 - np.exp(-mu) if np.isclose(x, mu) else 1.0
    m = int(np.floor(mu / x))
    total = 0.0
    for k in range(m + 1):
        y = k * x - mu  # ≤ 0
        if k == 0:
            total += 1.0
            continue
        # (y)^k (1 + k/(−y)) = y^k − k y^{k−1}, computed in logs for large k
        sign_a = (-1.0) ** k
        log_abs = k * np.log(-y) if y < 0 else -np.inf
        term_a = sign_a * np.exp(log_abs - k * x - gammaln(k + 1)) if y < 0 else 0.0
        if k == 1:
            term_b = -1.0 * np.exp(-k * x)
        else:
            sign_b = -((-1.0) ** (k - 1))
            term_b = (
                sign_b * np.exp(np.log(k) + (k - 1) * np.log(-y) - k * x - gammaln(k + 1))
                if y < 0
                else 0.0
            )
        total += term_a + term_b
    return float(total)


def spectrum_fractions(events: np.ndarray, lo: float, hi: float, cdf) -> np.ndarray:
    """Cumulative signal fractions of the sorted events and the two ends, in [0, 1].

    ``cdf(E)`` is the cumulative expected signal (any normalisation) at E."""
    e = np.sort(np.asarray(events, dtype=float))
    e = e[(e >= lo) & (e <= hi)]
    c_lo, c_hi = float(cdf(lo)), float(cdf(hi))
    if c_hi <= c_lo:
        raise ValueError("the signal CDF does not increase over [lo, hi]")
    inner = (np.asarray([cdf(v) for v in e], dtype=float) - c_lo) / (c_hi - c_lo)
    return np.concatenate([[0.0], inner, [1.0]])


def max_gap_upper_limit(fractions: np.ndarray, cl: float = 0.9) -> float:
    """Upper limit on the total expected signal μ from the maximum gap.

    Parameters
    ----------
    fractions : array
        Cumulative signal fractions of the events, with 0 and 1 for the ends
        (see :func:`spectrum_fractions`), sorted.
    cl : float
        Confidence level.
    """
    f = np.sort(np.asarray(fractions, dtype=float))
    gap = float(np.max(np.diff(f)))  # fraction of the spectrum in the largest gap
    if gap <= 0:
        raise ValueError("fractions must span a non-empty range")
    # C0(gap·μ, μ) increases with μ; find where it crosses cl
    lo, hi = 1e-6, 1.0
    while max_gap_c0(gap * hi, hi) < cl:
        hi *= 2
        if hi > 1e6:
            raise RuntimeError("no upper limit below μ = 1e6")
    return float(brentq(lambda m: max_gap_c0(gap * m, m) - cl, lo, hi, xtol=1e-6))


# ---- optimum interval ---------------------------------------------------------------------
def _k_largest_intervals(f: np.ndarray, n_max: int) -> np.ndarray:
    """x_n: the largest fraction of the spectrum in an interval with n events, n ≤ n_max."""
    out = np.zeros(n_max + 1)
    for n in range(n_max + 1):
        if n + 1 < f.size:
            out[n] = np.max(f[n + 1 :] - f[: f.size - n - 1])
        else:
            out[n] = 1.0
    return out


@lru_cache(maxsize=64)
def _cmax_table(mu: float, n_toys: int, seed: int) -> np.ndarray:
    """Monte Carlo distribution of max_n C_n(x_n, μ) for pure signal with mean μ (sorted)."""
    rng = np.random.default_rng(seed)
    n_max = int(mu + 6 * np.sqrt(mu) + 10)
    # C_n(x, μ) estimated from the same toys: P(x_n < x) for each n, as empirical CDFs
    xs = np.empty((n_toys, n_max + 1))
    for i in range(n_toys):
        k = rng.poisson(mu)
        f = np.concatenate([[0.0], np.sort(rng.random(k)), [1.0]])
        xs[i] = _k_largest_intervals(f, n_max)
    sorted_x = np.sort(xs, axis=0)
    # C_n of each toy's own x_n, then the max over n
    cn = np.stack(
        [np.searchsorted(sorted_x[:, n], xs[:, n], side="left") / n_toys for n in range(n_max + 1)],
        axis=1,
    )
    return np.sort(cn.max(axis=1)), sorted_x


def optimum_interval_upper_limit(
    fractions: np.ndarray, cl: float = 0.9, *, n_toys: int = 2000, seed: int = 1
) -> float:
    """Upper limit on μ by Yellin's optimum interval, with C_n and C̄_max from seeded toys.

    Slower than the maximum gap (a Monte Carlo per trial μ); use ``n_toys`` ≥ 2000 for
    limits good to a few per cent.
    """
    f = np.sort(np.asarray(fractions, dtype=float))

    def excess(mu: float) -> float:
        cmax_dist, sorted_x = _cmax_table(round(mu, 3), n_toys, seed)
        n_max = sorted_x.shape[1] - 1
        x = _k_largest_intervals(f, n_max)
        cn = [np.searchsorted(sorted_x[:, n], x[n], side="left") / n_toys for n in range(n_max + 1)]
        c_max = max(cn)
        # probability, for signal only, that C_max is below the observed one
        return float(np.searchsorted(cmax_dist, c_max, side="left") / n_toys) - cl

    lo, hi = 0.5, 2.0
    while excess(hi) < 0:
        hi *= 1.5
        if hi > 500:
            raise RuntimeError("no optimum-interval limit below μ = 500")
    while excess(lo) > 0 and lo > 0.05:
        lo /= 2
    for _ in range(25):  # bisection on a step function (Monte Carlo): stop at 0.5 %
        mid = 0.5 * (lo + hi)
        if excess(mid) < 0:
            lo = mid
        else:
            hi = mid
        if hi - lo < 0.005 * hi:
            break
    return float(hi)
