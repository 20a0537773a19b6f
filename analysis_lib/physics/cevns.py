"""Coherent elastic neutrino–nucleus scattering (CEvNS) and the SNS π-DAR neutrino flux.

Cross section (Freedman, PRD 9 (1974) 1389; as written in COHERENT, Science 357 (2017) 1123):

    dσ/dT = G_F² M / (4π) · Q_W² · (1 − M T / (2 E²) − T / E) · F²(q),
    Q_W = N − (1 − 4 sin²θ_W) Z,

with T the nuclear recoil energy, E the neutrino energy, M the nuclear mass and F the Helm
form factor (:func:`~analysis_lib.physics.nuclei.helm_form_factor`). The maximum recoil is
T_max = 2E² / (M + 2E).

Neutrinos from pion decay at rest (π-DAR) at a pulsed spallation source, per flavour and
per decaying π⁺ (e.g. Burman, Louis & Potter; COHERENT 2017):

- prompt νμ from π⁺ → μ⁺ νμ: a line at E = (m_π² − m_μ²)/(2 m_π) = 29.79 MeV;
- delayed ν̄μ and νe from μ⁺ → e⁺ νe ν̄μ (Michel spectra, E_max = m_μ/2 = 52.83 MeV):
  f_ν̄μ(E) = (64/m_μ)(E/m_μ)²(3/4 − E/m_μ),  f_νe(E) = (192/m_μ)(E/m_μ)²(1/2 − E/m_μ).

The fluence at distance L is r · N_POT / (4π L²) per flavour, with r the neutrinos of each
flavour per proton on target (≈ 0.08 at the SNS in 2017).
"""

from __future__ import annotations

import numpy as np

from .constants import (
    G_FERMI_GEV2,
    HBARC2_GEV2_CM2,
    MUON_LIFETIME_US,
    MUON_MASS_MEV,
    PION_LIFETIME_US,
    PION_MASS_MEV,
    SIN2_THETA_W,
)
from .nuclei import Nucleus, helm_form_factor, nucleus

__all__ = [
    "FLAVOURS",
    "PROMPT_NUMU_MEV",
    "cevns_dsigma_dT",
    "cevns_events",
    "cevns_photoelectron_spectrum",
    "cevns_recoil_spectrum",
    "cevns_total_cross_section",
    "flux_averaged_cross_section",
    "max_recoil_keV",
    "michel_spectrum",
    "neutrino_timing_pdf",
    "sns_fluence_per_cm2",
    "weak_charge",
]

PROMPT_NUMU_MEV = (PION_MASS_MEV**2 - MUON_MASS_MEV**2) / (2 * PION_MASS_MEV)
FLAVOURS = ("numu", "numubar", "nue")


def weak_charge(target: str | Nucleus, sin2_theta_w: float = SIN2_THETA_W) -> float:
    """Q_W = N − (1 − 4 sin²θ_W) Z (tree level)."""
    nuc = nucleus(target)
    return nuc.N - (1 - 4 * sin2_theta_w) * nuc.Z


def max_recoil_keV(neutrino_MeV: np.ndarray, target: str | Nucleus) -> np.ndarray:
    """T_max = 2E²/(M + 2E) in keV for neutrino energies in MeV."""
    m = nucleus(target).mass_GeV * 1e3
    e = np.asarray(neutrino_MeV, dtype=float)
    return 2 * e**2 / (m + 2 * e) * 1e3


def cevns_dsigma_dT(
    recoil_keV: np.ndarray,
    neutrino_MeV: np.ndarray,
    target: str | Nucleus,
    *,
    sin2_theta_w: float = SIN2_THETA_W,
    form_factor: bool = True,
) -> np.ndarray:
    """dσ/dT in cm²/keV (broadcasts recoil against neutrino energy); 0 above T_max."""
    nuc = nucleus(target)
    t = np.asarray(recoil_keV, dtype=float) * 1e-6  # GeV
    e = np.asarray(neutrino_MeV, dtype=float) * 1e-3  # GeV
    m = nuc.mass_GeV
    kin = 1 - m * t / (2 * e**2) - t / e
    f2 = helm_form_factor(recoil_keV, nuc) ** 2 if form_factor else 1.0
    qw = weak_charge(nuc, sin2_theta_w)
    per_gev = G_FERMI_GEV2**2 * m / (4 * np.pi) * qw**2 * np.clip(kin, 0, None) * f2
    return per_gev * HBARC2_GEV2_CM2 * 1e-6  # GeV⁻³ → cm²/GeV → cm²/keV


def cevns_total_cross_section(
    neutrino_MeV: float,
    target: str | Nucleus,
    *,
    threshold_keV: float = 0.0,
    sin2_theta_w: float = SIN2_THETA_W,
    form_factor: bool = True,
    n_points: int = 4001,
) -> float:
    """σ(E) = ∫ dσ/dT dT from ``threshold_keV`` to T_max, in cm²."""
    tmax = float(max_recoil_keV(neutrino_MeV, target))
    if tmax <= threshold_keV:
        return 0.0
    t = np.linspace(threshold_keV, tmax, n_points)
    ds = cevns_dsigma_dT(
        t, neutrino_MeV, target, sin2_theta_w=sin2_theta_w, form_factor=form_factor
    )
    return float(np.trapezoid(ds, t))


def michel_spectrum(neutrino_MeV: np.ndarray, flavour: str) -> np.ndarray:
    """Normalised energy spectrum (1/MeV) of ν̄μ (``"numubar"``) or νe (``"nue"``) from μ⁺ DAR."""
    e = np.asarray(neutrino_MeV, dtype=float)
    m = MUON_MASS_MEV
    inside = (e >= 0) & (e <= m / 2)
    if flavour == "numubar":
        f = 64 / m * (e / m) ** 2 * (0.75 - e / m)
    elif flavour == "nue":
        f = 192 / m * (e / m) ** 2 * (0.5 - e / m)
    else:
        raise ValueError(f"flavour={flavour!r}: Michel spectra exist for 'numubar' and 'nue'")
    return np.where(inside, f, 0.0)


def neutrino_timing_pdf(t_us: np.ndarray, flavour: str) -> np.ndarray:
    """Arrival-time PDF (1/µs) after an instantaneous proton pulse at t = 0.

    Prompt νμ follow the pion decay exp(−t/τ_π)/τ_π; the delayed ν̄μ and νe the muon decay
    fed by the pion decay, (e^{−t/τ_μ} − e^{−t/τ_π})/(τ_μ − τ_π). Convolve with the proton
    pulse shape (≈ 380 ns FWHM at the SNS) for a real beam.
    """
    t = np.asarray(t_us, dtype=float)
    tp, tm = PION_LIFETIME_US, MUON_LIFETIME_US
    if flavour == "numu":
        f = np.exp(-t / tp) / tp
    elif flavour in ("numubar", "nue"):
        f = (np.exp(-t / tm) - np.exp(-t / tp)) / (tm - tp)
    else:
        raise ValueError(f"flavour={flavour!r}: expected one of {FLAVOURS}")
    return np.where(t >= 0, f, 0.0)


def sns_fluence_per_cm2(
    pot: float, distance_m: float, nu_per_flavour_per_pot: float = 0.08
) -> float:
    """Neutrinos of each flavour per cm² at ``distance_m`` after ``pot`` protons on target."""
    return nu_per_flavour_per_pot * pot / (4 * np.pi * (distance_m * 100.0) ** 2)


def _energy_grid() -> np.ndarray:
    return np.linspace(0.0, MUON_MASS_MEV / 2, 1201)


def flux_averaged_cross_section(
    target: str | Nucleus, *, threshold_keV: float = 0.0, form_factor: bool = True
) -> float:
    """σ averaged over the π-DAR flux, all three flavours weighted equally (cm² per nucleus)."""
    prompt = cevns_total_cross_section(
        PROMPT_NUMU_MEV, target, threshold_keV=threshold_keV, form_factor=form_factor
    )
    e = _energy_grid()
    sig = np.array(
        [
            cevns_total_cross_section(
                x, target, threshold_keV=threshold_keV, form_factor=form_factor, n_points=801
            )
            for x in e
        ]
    )
    delayed = [np.trapezoid(sig * michel_spectrum(e, f), e) for f in ("numubar", "nue")]
    return float((prompt + delayed[0] + delayed[1]) / 3)


def cevns_recoil_spectrum(
    recoil_keV: np.ndarray,
    target: str | Nucleus,
    *,
    form_factor: bool = True,
    flavours: tuple[str, ...] = FLAVOURS,
) -> np.ndarray:
    """dσ/dT averaged over the π-DAR flux, summed over ``flavours`` (cm²/keV per nucleus
    per unit fluence of each flavour). Multiply by fluence per flavour and nuclei."""
    unknown = set(flavours) - set(FLAVOURS)
    if unknown:
        raise ValueError(f"flavours={flavours!r}: unknown {sorted(unknown)}; expected {FLAVOURS}")
    t = np.asarray(recoil_keV, dtype=float)
    out = np.zeros_like(t)
    if "numu" in flavours:
        out += cevns_dsigma_dT(t, PROMPT_NUMU_MEV, target, form_factor=form_factor)
    delayed = [f for f in ("numubar", "nue") if f in flavours]
    if delayed:
        e = _energy_grid()[1:]
        de = e[1] - e[0]
        ds = cevns_dsigma_dT(t[:, None], e[None, :], target, form_factor=form_factor)
        for f in delayed:
            out += (ds * michel_spectrum(e, f)[None, :]).sum(axis=1) * de
    return out


def cevns_events(
    targets: dict[str, float],
    detector_kg: float,
    pot: float,
    distance_m: float,
    *,
    threshold_keV: float = 0.0,
    max_keV: float = 200.0,
    efficiency=None,
    nu_per_flavour_per_pot: float = 0.08,
    n_points: int = 801,
    flavours: tuple[str, ...] = FLAVOURS,
    form_factor: bool = True,
) -> float:
    """Expected CEvNS events in a detector at a π-DAR source.

    Parameters
    ----------
    targets : dict
        Atoms per formula unit, e.g. ``{"Cs": 1, "I": 1}`` for CsI.
    detector_kg : float
        Target mass in kg.
    pot : float
        Protons on target.
    distance_m : float
        Distance from the target, m.
    threshold_keV, max_keV : float
        Nuclear-recoil energy range.
    efficiency : callable, optional
        ε(T in keV nuclear recoil) → [0, 1].
    nu_per_flavour_per_pot : float
        Neutrinos of each flavour per proton on target.
    n_points : int
        Points of the recoil-energy integration grid.
    flavours : tuple of str
        Neutrino flavours to include (any of :data:`FLAVOURS`): e.g. ``("numu",)`` for the
        prompt events only, when cuts treat prompt and delayed neutrinos differently.
    form_factor : bool
        Apply the Helm form factor (True) or take F = 1.
    """
    unit_mass_GeV = sum(nucleus(n).mass_GeV * k for n, k in targets.items())
    n_units = detector_kg * 5.60958860e26 / unit_mass_GeV
    fluence = sns_fluence_per_cm2(pot, distance_m, nu_per_flavour_per_pot)
    t = np.linspace(threshold_keV, max_keV, n_points)
    total = 0.0
    for name, k in targets.items():
        spec = cevns_recoil_spectrum(t, name, form_factor=form_factor, flavours=flavours)
        if efficiency is not None:
            spec = spec * efficiency(t)
        total += k * np.trapezoid(spec, t)
    return float(total * n_units * fluence)


def cevns_photoelectron_spectrum(
    targets: dict[str, float],
    detector_kg: float,
    pot: float,
    distance_m: float,
    *,
    quenching: float,
    light_yield_pe_per_keVee: float,
    n_max: int,
    acceptance=None,
    nu_per_flavour_per_pot: float = 0.08,
    flavours: tuple[str, ...] = FLAVOURS,
    form_factor: bool = True,
    max_keV: float = 120.0,
    n_points: int = 1201,
) -> np.ndarray:
    """Expected CEvNS events with n = 0 … n_max − 1 photoelectrons in a scintillator.

    A recoil of T keVnr gives on average T · ``quenching`` keVee, hence
    μ = T · quenching · light_yield photoelectrons; the number recorded is Poisson(μ)
    (:func:`~analysis_lib.physics.response.photoelectron_pmf`), then weighted by
    ``acceptance(n)`` (e.g. :func:`~analysis_lib.physics.response.coherent_csi_2017_acceptance`).
    Other arguments as :func:`cevns_events`; recoils up to ``max_keV`` on ``n_points``.
    """
    from .response import photoelectron_pmf

    if not (quenching > 0 and light_yield_pe_per_keVee > 0):
        raise ValueError(
            f"quenching={quenching}, light_yield_pe_per_keVee={light_yield_pe_per_keVee}: "
            "both must be > 0"
        )
    n = np.arange(n_max)
    weight = np.ones(n_max) if acceptance is None else np.asarray(acceptance(n), dtype=float)
    pe_per_keVnr = quenching * light_yield_pe_per_keVee
    unit_mass_GeV = sum(nucleus(k).mass_GeV * m for k, m in targets.items())
    n_units = detector_kg * 5.60958860e26 / unit_mass_GeV
    fluence = sns_fluence_per_cm2(pot, distance_m, nu_per_flavour_per_pot)
    t = np.linspace(0.0, max_keV, n_points)
    pmf = photoelectron_pmf(t * pe_per_keVnr, n_max) * weight  # (recoil, n)
    out = np.zeros(n_max)
    for name, k in targets.items():
        spec = cevns_recoil_spectrum(t, name, form_factor=form_factor, flavours=flavours)
        out += k * np.trapezoid(spec[:, None] * pmf, t, axis=0)
    return out * n_units * fluence
