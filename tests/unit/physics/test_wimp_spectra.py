"""WIMP recoil spectra against Lewin & Smith (1996) closed forms and published numbers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import erf

from analysis_lib.physics.nuclei import helm_form_factor, nucleus
from analysis_lib.physics.wimp import (
    StandardHalo,
    mean_inverse_speed,
    v_min_km_s,
    wimp_rate,
    wimp_spectrum,
)

AMU = 0.93149410242


def sigma_n_for_sigma0(mass, target, sigma0_cm2):
    """The per-nucleon σ that gives a per-nucleus σ₀ (L&S quote rates for σ₀ = 1 pb)."""
    n = nucleus(target)
    mu_N = mass * n.mass_GeV / (mass + n.mass_GeV)
    mu_n = mass * AMU / (mass + AMU)
    return sigma0_cm2 / (n.A**2 * (mu_N / mu_n) ** 2)


@pytest.mark.parametrize("target", ["Ge", "Si", "Xe", "Ar"])
@pytest.mark.parametrize("mass", [10.0, 100.0, 1000.0])
def test_total_rate_matches_lewin_smith_R0(target, mass):
    # L&S eq. 3.1 with their numerical coefficient (sec. 3):
    # R0 = 503/(M_D M_T) (σ0/1 pb)(ρ/0.4 GeV cm⁻³)(v0/230 km s⁻¹) per kg per day,
    # for v_E = 0, v_esc = ∞, F = 1. 503 is rounded: tolerance 0.2 %.
    halo = StandardHalo(rho_GeV_cm3=0.4, v0_km_s=230.0, vesc_km_s=np.inf, vE_km_s=1e-3)
    m_t = nucleus(target).mass_GeV
    r0 = 503.0 / (mass * m_t)
    e_max = 50 * 0.5 * mass * (230 / 299792.458) ** 2 * 4 * mass * m_t / (mass + m_t) ** 2 * 1e6
    rate = wimp_rate(
        0.0,
        e_max,
        mass,
        sigma_n_for_sigma0(mass, target, 1e-36),
        target,
        halo=halo,
        form_factor=False,
        n_points=20001,
    )
    assert rate == pytest.approx(r0, rel=2e-3)


def test_spectrum_is_lewin_smith_exponential_at_rest():
    # L&S eq. 3.9: dR/dE = R0/(E0 r) exp(−E/(E0 r)), E0 = ½ M_D v0², r = 4 M_D M_T/(M_D+M_T)²
    halo = StandardHalo(rho_GeV_cm3=0.4, v0_km_s=230.0, vesc_km_s=np.inf, vE_km_s=1e-3)
    mass, target = 60.0, "Ge"
    m_t = nucleus(target).mass_GeV
    e0_keV = 0.5 * mass * (230 / 299792.458) ** 2 * 1e6
    r = 4 * mass * m_t / (mass + m_t) ** 2
    r0 = (2 / np.sqrt(np.pi)) * (5.60958860e26 / m_t) * (0.4 / mass) * 1e-36 * 2.3e7 * 86400
    e = np.array([0.5, 5.0, 20.0, 60.0])
    expected = r0 / (e0_keV * r) * np.exp(-e / (e0_keV * r))
    got = wimp_spectrum(
        e, mass, sigma_n_for_sigma0(mass, target, 1e-36), target, halo=halo, form_factor=False
    )
    np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_mean_inverse_speed_matches_lewin_smith_eq_3_13():
    # L&S eq. 3.13 (finite escape speed, Earth moving), valid for v_min < v_esc − v_E:
    # dR/dE ∝ k0/k1 [ (√π/4)(v0/vE)(erf((vmin+vE)/v0) − erf((vmin−vE)/v0)) − e^{−vesc²/v0²} ]
    halo = StandardHalo()
    v0, ve, vesc = halo.v0_km_s, halo.vE_km_s, halo.vesc_km_s
    z = vesc / v0
    k0_over_k1 = 1 / (erf(z) - 2 / np.sqrt(np.pi) * z * np.exp(-(z**2)))
    vmin = np.linspace(0.0, vesc - ve - 1, 50)
    ls = k0_over_k1 * (
        np.sqrt(np.pi) / 4 * v0 / ve * (erf((vmin + ve) / v0) - erf((vmin - ve) / v0))
        - np.exp(-(z**2))
    )
    # L&S's bracket is η scaled by (√π v0 / 2): η = 2/(√π v0) · bracket
    np.testing.assert_allclose(
        mean_inverse_speed(vmin, halo), 2 / (np.sqrt(np.pi) * v0) * ls, rtol=1e-10
    )
    assert mean_inverse_speed(np.array([vesc + ve + 1]), halo)[0] == 0.0


def test_mean_inverse_speed_integrates_the_truncated_maxwellian():
    # brute-force Monte Carlo of ⟨1/v; v > vmin⟩ in the Earth frame, independent of any formula
    halo = StandardHalo()
    rng = np.random.default_rng(7)
    v = rng.normal(0, halo.v0_km_s / np.sqrt(2), size=(2_000_000, 3))
    v = v[np.linalg.norm(v, axis=1) < halo.vesc_km_s]
    v[:, 0] -= halo.vE_km_s  # galactic → Earth frame
    speed = np.linalg.norm(v, axis=1)
    for vmin in (0.0, 200.0, 500.0):
        mc = np.mean(np.where(speed > vmin, 1 / speed, 0.0))
        assert mean_inverse_speed(np.array([vmin]), halo)[0] == pytest.approx(mc, rel=0.01)


def test_helm_form_factor_is_one_at_zero_and_has_its_first_zero_where_j1_vanishes():
    assert helm_form_factor(np.array([0.0]), "Xe")[0] == pytest.approx(1.0)
    # Xe: first zero of j1(q rn) at q rn = 4.4934; rn from L&S eq. 4.11
    a, s = 0.52, 0.9
    c = 1.23 * nucleus("Xe").A ** (1 / 3) - 0.60
    rn = np.sqrt(c**2 + 7 / 3 * np.pi**2 * a**2 - 5 * s**2)
    q = 4.4934 / rn * 0.1973269804  # GeV
    e_zero_keV = q**2 / (2 * nucleus("Xe").mass_GeV) * 1e6
    assert 80 < e_zero_keV < 110  # Xe's first diffraction zero, ~ 95 keVnr
    f = helm_form_factor(np.array([e_zero_keV * 0.98, e_zero_keV * 1.02]), "Xe")
    assert f[0] > 0 > f[1]


def test_xenon_rate_scale_for_a_100_GeV_wimp():
    # 100 GeV, σ_n = 1e-45 cm², Xe, 5–100 keVnr, SHM with Helm: ~5e-4 per kg per day, i.e.
    # ~180 events per tonne-year — the scale at which a tonne-year xenon search (XENON1T,
    # PRL 121 (2018) 111302: 1 t·yr, limits ~1e-46 cm² near 100 GeV with a few events)
    # probes 1e-45 cm². Tolerance: a factor 2.
    rate = wimp_rate(5.0, 100.0, 100.0, 1e-45, "Xe")
    assert 2.5e-4 < rate < 1e-3
    assert rate < wimp_rate(5.0, 100.0, 100.0, 1e-45, "Xe", form_factor=False)


def test_light_wimps_leave_heavy_targets_below_threshold():
    # v_min above v_esc + v_E means no rate at all
    e_keV = 1.0
    assert v_min_km_s(e_keV, 3.0, "Xe") > 544 + 232
    assert wimp_spectrum(np.array([e_keV]), 3.0, 1e-40, "Xe")[0] == 0.0
    assert wimp_spectrum(np.array([e_keV]), 3.0, 1e-40, "Si")[0] > 0.0
