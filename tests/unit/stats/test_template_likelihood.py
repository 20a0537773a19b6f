"""The binned template likelihood: its algebra, its constraints, and its frequentist
behaviour on toys drawn from known templates (coverage, bias, the null distribution)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2, kstest, norm

from analysis_lib.stats import (
    Component,
    Free,
    Gaussian,
    PoissonControl,
    TemplateModel,
)

# A 2-D model (8 energy-like × 6 time-like bins): a peaked signal, a flat background measured
# in a control region with twice the exposure, and a small Gaussian-constrained background.
E = (np.arange(8) + 0.5) / 8
T = (np.arange(6) + 0.5) / 6
SIGNAL = np.outer(np.exp(-E / 0.3), np.exp(-T / 0.25))
FLAT = np.ones((8, 6))
LATE = np.outer(np.ones(8), T)
TRUTH = {"signal": 120.0, "steady": 400.0, "late": 30.0}


def components(steady_count=800.0, late_mean=30.0):
    return [
        Component("signal", SIGNAL),
        Component("steady", FLAT, constraint=PoissonControl(steady_count, ratio=2.0)),
        Component("late", LATE, constraint=Gaussian(late_mean, 8.0)),
    ]


def asimov(model, params):
    return model.expected(params)


def test_asimov_data_return_the_truth_with_near_gaussian_intervals():
    model = TemplateModel(np.zeros((8, 6)), components())
    fit = TemplateModel(asimov(model, TRUTH), components()).fit()
    for k, v in TRUTH.items():
        assert fit.values[k] == pytest.approx(v, rel=1e-4), k
    lo, hi = fit.interval("signal")
    assert lo < TRUTH["signal"] < hi
    assert (hi - lo) / 2 == pytest.approx(fit.errors["signal"], rel=0.1)
    # the expectation at the best fit is the data; per component it is yield × template
    np.testing.assert_allclose(fit.expected(), asimov(model, TRUTH), rtol=1e-4)
    assert fit.expected(component="late").sum() == pytest.approx(TRUTH["late"], rel=1e-4)


def test_gradient_is_the_derivative_of_the_nll():
    up = SIGNAL * np.linspace(0.5, 1.5, 8)[:, None]
    down = SIGNAL * np.linspace(1.5, 0.5, 8)[:, None]
    comps = components()
    comps[0] = Component("signal", SIGNAL, variations={"slope": (down, up)})
    comps[2] = Component("late", LATE, constraint=Gaussian(30, 8), variations={"slope": (up, down)})
    model = TemplateModel(np.random.default_rng(1).poisson(5.0, (8, 6)), comps)
    for alpha in (-1.7, -0.3, 0.4, 1.6):
        p = np.array([100.0, 380.0, 25.0, alpha])
        _, grad = model._nll_grad(p, model._n, model._aux)
        h = 1e-6
        numeric = [(model.nll(p + h * e) - model.nll(p - h * e)) / (2 * h) for e in np.eye(len(p))]
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-6)


def test_shape_systematic_interpolates_through_its_templates_and_is_fitted():
    up = SIGNAL * np.linspace(0.5, 1.5, 8)[:, None]
    down = SIGNAL * np.linspace(1.5, 0.5, 8)[:, None]
    comp = Component("signal", SIGNAL, variations={"slope": (down, up)})
    model = TemplateModel(np.zeros((8, 6)), [comp])
    for alpha, shape in ((-1.0, down), (0.0, SIGNAL), (1.0, up)):
        got = model.expected({"signal": 1.0, "slope": alpha})
        np.testing.assert_allclose(got, shape / shape.sum(), rtol=1e-12)
    # shape only: the yield is the yield at every α, and beyond ±1 it extrapolates linearly
    for alpha in (-2.5, 0.7, 3.0):
        assert model.expected({"signal": 50.0, "slope": alpha}).sum() == pytest.approx(50.0)
    # data made with the +1σ shape pull the nuisance to 1 (its constraint pulls back a little)
    fit = TemplateModel(200 * up / up.sum(), [comp]).fit()
    assert 0.8 < fit.values["slope"] <= 1.0
    assert fit.values["signal"] == pytest.approx(200, rel=1e-3)


def test_control_measurement_and_gaussian_constraints_have_their_closed_forms():
    # one bin, one yield seen as n in the signal region and m in a control region with
    # ratio r: ŷ = (n + m) / (1 + r)
    fit = TemplateModel([30.0], [Component("b", [1.0], constraint=PoissonControl(90, 2.0))]).fit()
    assert fit.values["b"] == pytest.approx(120 / 3, rel=1e-5)
    # a Gaussian measurement μ ± σ combined with a Poisson count n: ŷ solves
    # 1 − n/y + (y − μ)/σ² = 0, i.e. y² + (σ² − μ) y − n σ² = 0
    n, mu, s2 = 50.0, 40.0, 25.0
    fit = TemplateModel([n], [Component("b", [1.0], constraint=Gaussian(mu, 5.0))]).fit()
    root = (-(s2 - mu) + np.sqrt((s2 - mu) ** 2 + 4 * n * s2)) / 2
    # (to MIGRAD's tolerance: a thousandth of the error)
    assert fit.values["b"] == pytest.approx(root, abs=0.01 * fit.errors["b"])


def test_discovery_significance_is_the_counting_formula_for_a_known_background():
    # one bin with a background known to 1e-6: q₀ = 2[n ln(n/b) − (n − b)] (Cowan et al. 2011)
    b, n = 100.0, 140.0
    comps = [Component("s", [1.0]), Component("b", [1.0], constraint=Gaussian(b, 1e-6 * b))]
    fit = TemplateModel([n], comps).fit()
    z = np.sqrt(2 * (n * np.log(n / b) - (n - b)))
    assert fit.significance("s") == pytest.approx(z, rel=1e-4)
    # no excess: no significance
    assert TemplateModel([90.0], comps).fit().significance("s") == 0.0


def test_toy_significance_agrees_with_the_asymptotic_one_near_two_sigma():
    model = TemplateModel(np.zeros((8, 6)), components())
    truth = {"signal": 30.0, "steady": 400.0, "late": 30.0}
    fit = TemplateModel(asimov(model, truth), components()).fit()
    z_asym = fit.significance("signal")
    assert 1.5 < z_asym < 3
    z_toys, p = fit.toy_significance("signal", n_toys=1000, seed=3)
    assert z_toys == pytest.approx(z_asym, abs=0.25)
    assert p == pytest.approx(norm.sf(z_asym), abs=3 * np.sqrt(norm.sf(z_asym) / 1000) + 0.003)


@pytest.fixture(scope="module")
def signal_toys():
    """2000 toys at the truth, each fitted with its MINOS interval and q₀ (≈ 4 s)."""
    model = TemplateModel(np.zeros((8, 6)), components())
    return model.fit_toys(TRUTH, n_toys=2000, seed=17, intervals=["signal"])


def test_the_68_percent_interval_covers_the_truth_in_68_percent_of_toys(signal_toys):
    t = signal_toys
    assert t.valid.all()
    covered = (t.lower["signal"] <= TRUTH["signal"]) & (TRUTH["signal"] <= t.upper["signal"])
    assert abs(covered.mean() - 0.6827) < 0.03, covered.mean()


def test_the_fitted_yield_is_unbiased_and_its_error_is_its_spread(signal_toys):
    y = signal_toys.values["signal"]
    sigma = y.std()
    assert abs(y.mean() - TRUTH["signal"]) < 0.05 * sigma, (y.mean(), sigma)
    # the HESSE error is the spread of the fitted values (within the 2000-toy precision)
    assert np.median(signal_toys.errors["signal"]) == pytest.approx(sigma, rel=0.06)


def test_background_only_q0_follows_half_chi2_with_one_degree_of_freedom():
    """Chernoff/Wilks: under the null, q₀ is 0 half the time and χ²₁ otherwise."""
    model = TemplateModel(np.zeros((8, 6)), components())
    null = {"signal": 0.0, "steady": 400.0, "late": 30.0}
    toys = model.fit_toys(null, n_toys=2000, seed=5, discovery="signal")
    q0 = toys.q0
    binomial = np.sqrt(0.25 / q0.size)
    assert abs(np.mean(q0 < 1e-9) - 0.5) < 3 * binomial
    positive = q0[q0 > 1e-9]
    assert kstest(positive, chi2(1).cdf).pvalue > 0.01
    # the tail that sets discovery claims: P(q₀ > 4) = ½ P(χ²₁ > 4) = 2.3 %
    tail = 0.5 * chi2.sf(4, 1)
    assert abs(np.mean(q0 > 4) - tail) < 3 * np.sqrt(tail / q0.size)


def test_templates_from_a_density_model_on_the_data_histogram():
    import hist

    h = hist.Hist(hist.axis.Regular(10, 0, 5, name="x"), hist.axis.Regular(4, 0, 2, name="y"))
    h.view()[...] = 3.0
    model = TemplateModel(h, [Component("d", lambda x, y: np.exp(-x) * (1 + y))])
    t = model.expected({"d": 1.0})
    centres = np.meshgrid(h.axes[0].centers, h.axes[1].centers, indexing="ij")
    want = np.exp(-centres[0]) * (1 + centres[1])
    np.testing.assert_allclose(t, want / want.sum())
    assert model.fit().values["d"] == pytest.approx(h.sum(), rel=1e-5)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TemplateModel(np.ones(4), [Component("s", np.ones(5))]), "shape"),
        (lambda: TemplateModel(np.ones(4), [Component("s", -np.ones(4))]), "≥ 0"),
        (lambda: TemplateModel(np.ones(4), [Component("s", np.zeros(4))]), "all bins are 0"),
        (lambda: TemplateModel(-np.ones(4), [Component("s", np.ones(4))]), "data"),
        (
            lambda: TemplateModel(np.ones(4), [Component("s", np.ones(4))] * 2),
            "duplicate",
        ),
        (lambda: TemplateModel(np.ones(4), [Component("s", lambda x: x)]), "edges"),
        (lambda: Gaussian(1.0, 0.0), "sigma"),
        (lambda: PoissonControl(5, ratio=0), "ratio"),
    ],
)
def test_bad_models_are_refused_with_the_culprit_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_unknown_parameters_are_named():
    model = TemplateModel(np.ones(4), [Component("s", np.ones(4), constraint=Free(lower=None))])
    with pytest.raises(KeyError, match="unknown parameter 'mu'"):
        model.fit(fixed={"mu": 1.0})
    with pytest.raises(KeyError, match="missing"):
        model.expected({"x": 1.0})
