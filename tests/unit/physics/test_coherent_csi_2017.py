"""COHERENT's 2017 CsI[Na] observation redone from its public release with the library's
physics and statistics — every modelling choice made from the release note and the paper
first (as in tutorial 09), then compared with the published numbers:
134 ± 22 fitted CEvNS events, 6.7σ, 173 ± 48 predicted (Science 357 (2017) 1123)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis_lib.io import read_coherent_csi_2017
from analysis_lib.physics.cevns import cevns_events, cevns_photoelectron_spectrum
from analysis_lib.physics.response import coherent_csi_2017_acceptance, photoelectron_pmf
from analysis_lib.stats import Component, Gaussian, PoissonControl, TemplateModel

# the release note's facts (arXiv:1804.09459)
CSI = {"targets": {"Cs": 1, "I": 1}, "detector_kg": 14.57, "pot": 1.76e23, "distance_m": 19.3}
LIGHT_YIELD, QF, QF_SIGMA = 13.348, 0.0878, 0.0166


def test_the_release_acceptance_is_its_logistic_with_the_low_pe_cuts():
    a, k, x0 = 0.6655, 0.4942, 10.8507
    x = np.array([0.0, 4.99, 5.0, 5.5, 6.0, 10.8507, 30.0])
    eps = coherent_csi_2017_acceptance(x)
    logistic = a / (1 + np.exp(-k * (x - x0)))
    np.testing.assert_allclose(eps[:2], 0.0)
    np.testing.assert_allclose(eps[2:4], logistic[2:4] / 2)
    np.testing.assert_allclose(eps[4:], logistic[4:])
    assert eps[5] == pytest.approx(a / 2)
    assert eps[-1] == pytest.approx(a, rel=1e-3)  # the plateau


def test_photoelectron_statistics_are_poisson():
    p = photoelectron_pmf(np.array([0.5, 12.0]), 200)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p @ np.arange(200), [0.5, 12.0])
    np.testing.assert_allclose(p @ np.arange(200) ** 2 - np.array([0.5, 12.0]) ** 2, [0.5, 12.0])
    with pytest.raises(ValueError, match="mean_pe"):
        photoelectron_pmf(np.array([-1.0]), 5)


def pe_spectrum(flavours, quenching=QF):
    """Expected CEvNS events per release PE bin (2 PE wide, 0 … 50 PE)."""
    n = cevns_photoelectron_spectrum(
        **CSI,
        quenching=quenching,
        light_yield_pe_per_keVee=LIGHT_YIELD,
        n_max=50,
        acceptance=coherent_csi_2017_acceptance,
        flavours=flavours,
    )
    return n.reshape(25, 2).sum(axis=1)


@pytest.fixture(scope="module")
def release():
    return read_coherent_csi_2017()


def cevns_template(release, quenching=QF):
    prompt, delayed = pe_spectrum(("numu",), quenching), pe_spectrum(("numubar", "nue"), quenching)
    return np.outer(prompt, release.prompt_neutrinos.values()) + np.outer(
        delayed, release.delayed_neutrinos.values()
    )


def test_the_standard_model_prediction_is_the_published_one_within_15_percent(release):
    sm = cevns_template(release).sum()
    assert abs(sm / 173 - 1) < 0.15, sm
    # the photoelectron route agrees with the recoil-energy route of cevns_events when the
    # acceptance is folded in the same way (the 50-PE top of the release loses ~0.1 %)
    pe_per_keVnr = QF * LIGHT_YIELD
    n = np.arange(400)
    recoil = cevns_events(
        CSI["targets"],
        CSI["detector_kg"],
        CSI["pot"],
        CSI["distance_m"],
        max_keV=120,
        n_points=1201,
        efficiency=lambda t: (
            photoelectron_pmf(t * pe_per_keVnr, 400) @ coherent_csi_2017_acceptance(n)
        ),
    )
    assert sm == pytest.approx(recoil, rel=0.005)
    # the quenching factor's ±1.66 % moves it by about a quarter: the paper's ± 48 is mostly this
    lo, hi = (
        cevns_template(release, QF - QF_SIGMA).sum(),
        cevns_template(release, QF + QF_SIGMA).sum(),
    )
    assert lo < 0.8 * sm
    assert hi > 1.15 * sm


@pytest.fixture(scope="module")
def fit(release):
    ac = release.anticoincidence_on.values()
    steady = np.outer(ac.sum(axis=1), ac.sum(axis=0))  # PE × time, factorised
    flat_pe = coherent_csi_2017_acceptance(np.arange(50)).reshape(25, 2).mean(axis=1)
    model = TemplateModel(
        release.coincidence_on,
        [
            Component(
                "cevns",
                cevns_template(release),
                variations={
                    "quenching": (
                        cevns_template(release, QF - QF_SIGMA),
                        cevns_template(release, QF + QF_SIGMA),
                    )
                },
            ),
            Component("steady_state", steady, constraint=PoissonControl(ac.sum(), ratio=1.0)),
            Component(
                "neutrons",
                np.outer(flat_pe, release.prompt_neutrons.values()),
                constraint=Gaussian(0.0, 10.0),
            ),
        ],
    )
    return model.fit()


def test_the_fitted_cevns_count_is_the_published_one_within_one_and_a_half_sigma(fit):
    n = fit.values["cevns"]
    lo, hi = fit.interval("cevns")
    assert 101 <= n <= 167, n  # 134 ± 22 × 1.5
    assert lo < n < hi
    assert 15 < (hi - lo) / 2 < 35  # the published ± 22
    # the steady-state background is what the anti-coincidence window measured
    assert fit.values["steady_state"] == pytest.approx(1032, abs=2 * np.sqrt(1032))


def test_the_excess_is_an_observation(fit):
    assert fit.significance("cevns") >= 5.0  # published 6.7σ
