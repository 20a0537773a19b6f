"""Yellin's maximum gap and optimum interval; exclusion curves; exposure bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest

from analysis_lib.stats.exclusion import exclusion_curve
from analysis_lib.stats.exposure import Exposure, total_exposure
from analysis_lib.stats.poisson import classical_upper_limit
from analysis_lib.stats.yellin import (
    max_gap_c0,
    max_gap_upper_limit,
    optimum_interval_upper_limit,
    spectrum_fractions,
)


def test_no_events_give_the_poisson_limit():
    # Yellin 2002: with no events the maximum gap is the whole range, C0 = 1 − e^{−μ}
    assert max_gap_c0(2.0, 2.0) == pytest.approx(1 - np.exp(-2.0))
    assert max_gap_upper_limit(np.array([0.0, 1.0])) == pytest.approx(2.3026, abs=1e-3)
    assert max_gap_upper_limit(np.array([0.0, 1.0]), cl=0.95) == pytest.approx(2.9957, abs=1e-3)


@pytest.mark.parametrize(("mu", "x"), [(3.0, 1.2), (5.0, 2.0), (10.0, 2.5), (20.0, 3.0)])
def test_c0_is_the_probability_that_the_maximum_gap_is_smaller(mu, x):
    # Monte Carlo of the definition (Yellin 2002 eq. 2), seeded: 6000 toys → σ ≤ 0.0065
    rng = np.random.default_rng(11)
    n_toys = 6000
    below = 0
    for _ in range(n_toys):
        f = np.concatenate([[0.0], np.sort(rng.random(rng.poisson(mu))), [1.0]])
        below += np.diff(f).max() * mu < x
    assert max_gap_c0(x, mu) == pytest.approx(below / n_toys, abs=0.03)


def test_max_gap_limit_grows_with_events_in_the_signal_region():
    spread = max_gap_upper_limit(np.r_[0.0, np.linspace(0.1, 0.9, 9), 1.0])
    clustered = max_gap_upper_limit(np.r_[0.0, np.full(9, 0.95), 1.0])
    assert max_gap_upper_limit(np.array([0.0, 1.0])) < clustered < spread
    # clustered at one end: the gap holds 95 % of the signal, C0(0.95μ, μ) = 0.9
    assert max_gap_c0(0.95 * clustered, clustered) == pytest.approx(0.9, abs=1e-6)


def test_optimum_interval_is_close_to_max_gap_without_events_and_better_with_spread_events():
    # With no events the optimum interval cannot beat the max gap (it pays for choosing
    # among intervals) and stays within ~10 % of 2.30.
    oi0 = optimum_interval_upper_limit(np.array([0.0, 1.0]), n_toys=1000)
    assert 2.30 <= oi0 < 2.55
    # background spread like the signal (Yellin's motivating case): intervals holding a
    # few events are far larger than any empty gap, so the optimum interval does better
    fr = np.r_[0.0, (np.arange(10) + 0.5) / 10, 1.0]
    oi, mg = optimum_interval_upper_limit(fr, n_toys=1000), max_gap_upper_limit(fr)
    assert oi < 0.5 * mg
    assert oi > 10  # ten events seen: the limit is above the number observed


def test_spectrum_fractions_use_the_signal_cdf():
    fr = spectrum_fractions(np.array([5.0, 1.0, 20.0]), 0.0, 10.0, lambda e: e**2)
    np.testing.assert_allclose(fr, [0.0, 0.01, 0.25, 1.0])


def test_exposure_bookkeeping():
    a = Exposure(mass_kg=10.0, live_days=30.0, efficiency=0.5)
    b = Exposure(mass_kg=20.0, live_days=10.0)
    assert a.kg_days == 150.0
    total = total_exposure([a, b])
    assert total.kg_days == pytest.approx(350.0)
    assert total.live_days == 40.0
    with pytest.raises(ValueError, match="efficiency"):
        Exposure(1.0, 1.0, efficiency=1.5)
    beam = Exposure(14.57, 308.1, pot=1.76e23) + Exposure(14.57, 100.0, pot=0.5e23)
    assert beam.kg_pot == pytest.approx(14.57 * 2.26e23)


def test_exclusion_curve_background_free_scales_as_mu_over_expected_events():
    masses = [10.0, 30.0, 100.0, 1000.0]
    curve = exclusion_curve(masses, "Xe", 365_000.0, threshold_keV=5.0, max_keV=50.0)
    np.testing.assert_allclose(curve["mu_up"], 2.3026, atol=1e-3)
    np.testing.assert_allclose(
        curve["sigma_up_cm2"],
        1e-45 * classical_upper_limit(0) / curve["events_per_1e-45_cm2"],
        rtol=1e-9,
    )
    # the classic shape: best sensitivity at tens of GeV, worse at low and high mass;
    # at high mass the limit grows ∝ m (number density ∝ 1/m)
    best = curve["sigma_up_cm2"].idxmin()
    assert curve["mass_GeV"][best] in (30.0, 100.0)
    assert curve["sigma_up_cm2"].iloc[0] > 10 * curve["sigma_up_cm2"].iloc[best]
    # an ideal 1 t·yr xenon search with no events reaches ~1e-47 cm² at 30 GeV
    assert 5e-48 < curve["sigma_up_cm2"].iloc[1] < 3e-47


def test_exclusion_methods_agree_where_they_must():
    kw = dict(threshold_keV=5.0, max_keV=50.0)
    fc = exclusion_curve([50.0], "Ge", 1000.0, method="feldman-cousins", **kw)
    pois = exclusion_curve([50.0], "Ge", 1000.0, method="poisson", **kw)
    assert fc["mu_up"].iloc[0] == pytest.approx(2.44, abs=0.01)
    assert pois["mu_up"].iloc[0] == pytest.approx(2.30, abs=0.01)
    gap = exclusion_curve([50.0], "Ge", 1000.0, method="max-gap", events_keV=[], **kw)
    assert gap["mu_up"].iloc[0] == pytest.approx(2.30, abs=0.01)
    with pytest.raises(ValueError, match="events_keV"):
        exclusion_curve([50.0], "Ge", 1000.0, method="max-gap", **kw)
