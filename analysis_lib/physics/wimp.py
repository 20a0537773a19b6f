"""Spin-independent WIMP–nucleus recoil spectra in the standard halo model (SHM).

The differential rate per unit target mass (Lewin & Smith, Astropart. Phys. 6 (1996) 87,
eqs. 3.1–3.13, written with the mean inverse speed η):

    dR/dE_R = ρ_χ σ_N F²(E_R) η(v_min) / (2 m_χ μ_N²),
    σ_N = σ_n A² (μ_N/μ_n)²,      v_min = √(m_N E_R / (2 μ_N²)),

for a per-nucleon cross section σ_n with equal couplings to protons and neutrons. η is the
mean inverse speed of a Maxwellian truncated at v_esc in the galactic frame and boosted by
the Earth's speed v_E (Savage, Freese & Gondolo, PRD 74 (2006) 043531, eq. B3 — the same
integral as Lewin & Smith eq. 3.13). Default halo: ρ = 0.3 GeV/cm³, v₀ = 220 km/s,
v_esc = 544 km/s, v_E = 232 km/s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import erf

from .constants import AMU_GEV, C_CM_S, GEV_PER_KG, SECONDS_PER_DAY
from .nuclei import Nucleus, helm_form_factor, nucleus

__all__ = ["StandardHalo", "mean_inverse_speed", "v_min_km_s", "wimp_rate", "wimp_spectrum"]


@dataclass(frozen=True)
class StandardHalo:
    """Standard halo model parameters.

    Attributes
    ----------
    rho_GeV_cm3 : float
        Local dark-matter density, GeV/cm³.
    v0_km_s : float
        Most probable speed (circular speed), km/s.
    vesc_km_s : float
        Galactic escape speed, km/s (``np.inf`` for no cut-off).
    vE_km_s : float
        Earth's speed in the galactic frame, km/s.
    """

    rho_GeV_cm3: float = 0.3
    v0_km_s: float = 220.0
    vesc_km_s: float = 544.0
    vE_km_s: float = 232.0


def _reduced(a: float, b: float) -> float:
    return a * b / (a + b)


def v_min_km_s(recoil_keV: np.ndarray, mass_GeV: float, target: str | Nucleus) -> np.ndarray:
    """Minimum WIMP speed (km/s) that can give a recoil of ``recoil_keV`` (elastic)."""
    mN = nucleus(target).mass_GeV
    mu = _reduced(mass_GeV, mN)
    e_GeV = np.asarray(recoil_keV, dtype=float) * 1e-6
    return np.sqrt(mN * e_GeV / (2 * mu**2)) * 299_792.458


def mean_inverse_speed(vmin_km_s: np.ndarray, halo: StandardHalo = StandardHalo()) -> np.ndarray:
    """η(v_min) = ∫_{v>v_min} f(v)/v d³v in s/km for the truncated, boosted Maxwellian.

    Savage, Freese & Gondolo (2006) eq. B3; N_esc normalises the truncated distribution.
    """
    v0, ve, vesc = halo.v0_km_s, halo.vE_km_s, halo.vesc_km_s
    x = np.asarray(vmin_km_s, dtype=float) / v0
    y = ve / v0
    if y <= 0:
        raise ValueError("vE_km_s must be > 0 (use a small value for the rest frame)")
    if np.isinf(vesc):
        return (erf(x + y) - erf(x - y)) / (2 * v0 * y)
    z = vesc / v0
    nesc = erf(z) - 2 / np.sqrt(np.pi) * z * np.exp(-(z**2))
    ez = np.exp(-(z**2))
    low = (erf(x + y) - erf(x - y) - 4 / np.sqrt(np.pi) * y * ez) / (2 * nesc * v0 * y)
    mid = (erf(z) - erf(x - y) - 2 / np.sqrt(np.pi) * (y + z - x) * ez) / (2 * nesc * v0 * y)
    if z < y:  # Earth faster than escape speed: not a physical halo, but defined
        low = np.full_like(x, 1 / (v0 * y))
    out = np.where(x < abs(z - y), low, np.where(x < y + z, mid, 0.0))
    return np.maximum(out, 0.0)


def wimp_spectrum(
    recoil_keV: np.ndarray,
    mass_GeV: float,
    sigma_n_cm2: float,
    target: str | Nucleus,
    *,
    halo: StandardHalo = StandardHalo(),
    form_factor: bool = True,
) -> np.ndarray:
    """dR/dE_R in events / (kg · day · keV) for a spin-independent WIMP.

    Parameters
    ----------
    recoil_keV : array
        Nuclear-recoil energies, keV.
    mass_GeV : float
        WIMP mass, GeV/c².
    sigma_n_cm2 : float
        WIMP–nucleon cross section, cm².
    target : str or Nucleus
        e.g. ``"Ge"``, ``"Si"``, ``"Xe"``, ``"Ar"``.
    halo : StandardHalo
    form_factor : bool
        Apply the Helm form factor (default) or not (F = 1).
    """
    nuc = nucleus(target)
    e = np.asarray(recoil_keV, dtype=float)
    mN = nuc.mass_GeV
    mu_N = _reduced(mass_GeV, mN)
    mu_n = _reduced(mass_GeV, AMU_GEV)
    sigma_N = sigma_n_cm2 * nuc.A**2 * (mu_N / mu_n) ** 2
    eta_s_cm = mean_inverse_speed(v_min_km_s(e, mass_GeV, nuc), halo) * 1e-5  # s/km → s/cm
    f2 = helm_form_factor(e, nuc) ** 2 if form_factor else 1.0
    # ρ σ η c² / (2 m μ²): per (GeV/c² of target) per s per GeV of recoil energy
    rate = halo.rho_GeV_cm3 * sigma_N * eta_s_cm * C_CM_S**2 / (2 * mass_GeV * mu_N**2) * f2
    return rate * GEV_PER_KG * SECONDS_PER_DAY * 1e-6


def wimp_rate(
    threshold_keV: float,
    max_keV: float,
    mass_GeV: float,
    sigma_n_cm2: float,
    target: str | Nucleus,
    *,
    halo: StandardHalo = StandardHalo(),
    form_factor: bool = True,
    efficiency=None,
    n_points: int = 2001,
) -> float:
    """Integrated rate in events / (kg · day) between ``threshold_keV`` and ``max_keV``.

    ``efficiency`` is an optional callable ε(E_R in keV) → [0, 1] applied before integrating.
    """
    e = np.linspace(threshold_keV, max_keV, n_points)
    spec = wimp_spectrum(e, mass_GeV, sigma_n_cm2, target, halo=halo, form_factor=form_factor)
    if efficiency is not None:
        spec = spec * efficiency(e)
    return float(np.trapezoid(spec, e))
