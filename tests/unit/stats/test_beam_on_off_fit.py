"""The beam-on/beam-off binned likelihood fit with nuisance parameters."""

from __future__ import annotations

import numpy as np
import pytest

from analysis_lib.stats.beam_fit import fit_beam_on_off

X = np.linspace(0, 1, 12)
SIGNAL = 150 * np.exp(-3 * X) / np.exp(-3 * X).sum()  # 150 events for μ = 1
STEADY = np.full(12, 30.0)  # steady-state background per bin, beam-on exposure
NEUTRONS = 20 * np.exp(-(((X - 0.2) / 0.1) ** 2)) / np.exp(-(((X - 0.2) / 0.1) ** 2)).sum()
TAU = 2.0  # twice as much beam-off as beam-on exposure


def test_asimov_data_return_the_truth_and_a_sensible_interval():
    r = fit_beam_on_off(
        SIGNAL + STEADY + NEUTRONS,
        TAU * STEADY,
        SIGNAL,
        TAU,
        signal_sigma=0.1,
        backgrounds={"neutrons": (NEUTRONS, 0.25)},
    )
    assert r.mu == pytest.approx(1.0, abs=1e-3)
    lo, hi = r.mu_interval
    assert lo < 1.0 < hi
    assert (hi - lo) / 2 == pytest.approx(r.mu_err, rel=0.15)  # near-Gaussian here
    assert r.significance > 5
    assert r.params["theta_neutrons"] == pytest.approx(0.0, abs=1e-3)


def test_systematic_uncertainty_widens_the_error_in_quadrature():
    data = (SIGNAL + STEADY, TAU * STEADY, SIGNAL, TAU)
    stat = fit_beam_on_off(*data, intervals=False).mu_err
    both = fit_beam_on_off(*data, signal_sigma=0.2, intervals=False).mu_err
    assert both == pytest.approx(np.hypot(stat, 0.2), rel=0.05)


def test_pulls_of_toy_experiments_are_standard_normal():
    rng = np.random.default_rng(5)
    pulls = []
    for _ in range(80):
        r = fit_beam_on_off(
            rng.poisson(SIGNAL + STEADY),
            rng.poisson(TAU * STEADY),
            SIGNAL,
            TAU,
            intervals=False,
        )
        pulls.append((r.mu - 1.0) / r.mu_err)
    assert abs(np.mean(pulls)) < 0.35  # σ_mean ≈ 0.11
    assert 0.75 < np.std(pulls) < 1.25


def test_no_signal_gives_an_upper_limit_starting_at_zero():
    r = fit_beam_on_off(STEADY, TAU * STEADY, SIGNAL, TAU, cl=0.9)
    assert r.mu == pytest.approx(0.0, abs=0.02)
    assert r.mu_interval[0] == 0.0
    assert r.mu_interval[1] > 0.1
    assert r.significance == pytest.approx(0.0, abs=0.2)


def test_mismatched_binning_is_refused():
    with pytest.raises(ValueError, match="same binning"):
        fit_beam_on_off(STEADY, STEADY[:-1], SIGNAL, TAU)
