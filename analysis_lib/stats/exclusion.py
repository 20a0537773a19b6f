"""Exclusion curves: upper limits on the WIMP–nucleon cross section versus WIMP mass.

For each mass m the expected number of signal events per unit cross section is

    N(m, σ) = σ / σ_ref · exposure[kg·day] · ∫ ε(E) dR/dE(E; m, σ_ref) dE,

and the limit on σ is σ_ref · μ_up / N(m, σ_ref), with μ_up from a Poisson limit on the
observed count (classical or Feldman–Cousins, known background) or from Yellin's maximum
gap on the observed event energies (no background subtraction).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ..physics.wimp import StandardHalo, wimp_spectrum
from .poisson import classical_upper_limit, feldman_cousins_interval
from .yellin import max_gap_upper_limit

__all__ = ["exclusion_curve"]

SIGMA_REF_CM2 = 1e-45


def exclusion_curve(
    masses_GeV: Sequence[float],
    target: str,
    exposure_kg_days: float,
    *,
    threshold_keV: float,
    max_keV: float,
    method: str = "poisson",
    n_observed: int = 0,
    background: float = 0.0,
    events_keV: Sequence[float] | None = None,
    efficiency: Callable[[np.ndarray], np.ndarray] | None = None,
    halo: StandardHalo | None = None,
    cl: float = 0.9,
    n_points: int = 1001,
) -> pd.DataFrame:
    """Upper limits on σ_n (cm²) versus mass.

    Parameters
    ----------
    masses_GeV : sequence of float
    target : str
        ``"Ge"``, ``"Si"``, ``"Xe"``, ``"Ar"`` …
    exposure_kg_days : float
        Effective exposure (see :class:`~analysis_lib.stats.exposure.Exposure`).
    threshold_keV, max_keV : float
        Analysis window in nuclear-recoil energy.
    method : {"poisson", "feldman-cousins", "max-gap"}
        How μ_up is found. "max-gap" needs ``events_keV``.
    n_observed, background : int, float
        Observed events and expected background in the window (Poisson methods).
    events_keV : sequence of float, optional
        Observed event energies (max-gap).
    efficiency : callable, optional
        ε(E keV) → [0, 1].
    halo : StandardHalo, optional
        Default: the standard halo (ρ = 0.3 GeV/cm³, v₀ = 220, v_esc = 544, v_E = 232 km/s).

    Returns
    -------
    DataFrame
        ``mass_GeV``, ``events_per_1e-45_cm2``, ``mu_up``, ``sigma_up_cm2``.
    """
    if method not in ("poisson", "feldman-cousins", "max-gap"):
        raise ValueError(f"method={method!r}: expected 'poisson', 'feldman-cousins' or 'max-gap'")
    if method == "max-gap" and events_keV is None:
        raise ValueError("method='max-gap' needs events_keV (the observed event energies)")
    halo = halo if halo is not None else StandardHalo()
    e = np.linspace(threshold_keV, max_keV, n_points)
    eff = efficiency(e) if efficiency is not None else np.ones_like(e)
    if method == "poisson":
        mu_fixed = classical_upper_limit(n_observed, background, cl, clip=True)
    elif method == "feldman-cousins":
        mu_fixed = feldman_cousins_interval(n_observed, background, cl)[1]
    rows = []
    for m in masses_GeV:
        spec = wimp_spectrum(e, m, SIGMA_REF_CM2, target, halo=halo) * eff * exposure_kg_days
        n_ref = float(np.trapezoid(spec, e))
        if n_ref <= 0:
            rows.append((m, 0.0, np.nan, np.inf))
            continue
        if method == "max-gap":
            cdf = np.concatenate([[0.0], np.cumsum(0.5 * (spec[1:] + spec[:-1]) * np.diff(e))])
            ev = np.sort(np.asarray(events_keV, dtype=float))
            ev = ev[(ev >= threshold_keV) & (ev <= max_keV)]
            fr = np.concatenate([[0.0], np.interp(ev, e, cdf) / cdf[-1], [1.0]])
            mu = max_gap_upper_limit(fr, cl)
        else:
            mu = mu_fixed
        rows.append((m, n_ref, mu, SIGMA_REF_CM2 * mu / n_ref))
    return pd.DataFrame(rows, columns=["mass_GeV", "events_per_1e-45_cm2", "mu_up", "sigma_up_cm2"])
