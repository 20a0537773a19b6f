"""Line fits recover injected lines; the energy scale and its errors are right; artifacts
round-trip and refuse bad content."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis_lib.calib import (
    Calibration,
    find_line_candidates,
    fit_energy_scale,
    fit_line,
    fit_lines,
    load_calibration,
)


def line_sample(rng, mean, sigma, n_sig, lo, hi, n_bkg):
    return np.r_[rng.normal(mean, sigma, n_sig), rng.uniform(lo, hi, n_bkg)]


def test_line_fit_recovers_peak_with_calibrated_errors():
    # 40 pseudo-experiments: pulls of the mean have unit width (HESSE errors are right)
    rng = np.random.default_rng(1)
    pulls, widths = [], []
    for _ in range(40):
        x = line_sample(rng, 100.0, 2.0, 2000, 80, 120, 3000)
        fit = fit_line(x, window=(80, 120))
        assert fit.valid
        pulls.append((fit.mean - 100.0) / fit.mean_err)
        widths.append(fit.sigma)
        assert fit.n_signal == pytest.approx(2000, abs=5 * fit.n_signal_err)
    assert abs(np.mean(pulls)) < 0.5
    assert 0.65 < np.std(pulls) < 1.4
    assert np.mean(widths) == pytest.approx(2.0, rel=0.03)


def test_find_and_fit_several_lines():
    rng = np.random.default_rng(2)
    x = np.r_[rng.normal(30, 1, 3000), rng.normal(60, 1.5, 2000), rng.uniform(0, 100, 5000)]
    guesses = find_line_candidates(x, n_lines=2, range_=(0, 100))
    np.testing.assert_allclose(guesses, [30, 60], atol=1.0)
    fits = fit_lines(x, guesses=guesses, half_width=8)
    assert fits[0].mean == pytest.approx(30, abs=4 * fits[0].mean_err)
    assert fits[1].mean == pytest.approx(60, abs=4 * fits[1].mean_err)


def test_line_fit_refuses_empty_window():
    with pytest.raises(ValueError, match="only 0 events"):
        fit_line(np.arange(5.0), window=(100, 200))
    with pytest.raises(ValueError, match="high must be above low"):
        fit_line(np.arange(50.0), window=(20, 10))


def test_linear_scale_errors_match_textbook_weighted_fit():
    # straight-line weighted LSQ with errors only in E: closed form (Bevington eq. 6.12, 6.21)
    a = np.array([10.0, 25.0, 60.0, 90.0])
    e = np.array([5.9, 13.9, 32.1, 48.3])
    se = np.array([0.1, 0.2, 0.2, 0.3])
    scale = fit_energy_scale(a, e, energy_errors_keV=se, degree=1)
    w = 1 / se**2
    delta = w.sum() * (w * a**2).sum() - (w * a).sum() ** 2
    slope = (w.sum() * (w * a * e).sum() - (w * a).sum() * (w * e).sum()) / delta
    icpt = ((w * a**2).sum() * (w * e).sum() - (w * a).sum() * (w * a * e).sum()) / delta
    assert scale.coefficients == pytest.approx((icpt, slope), rel=1e-10)
    assert scale.covariance[1][1] == pytest.approx(w.sum() / delta, rel=1e-10)
    assert scale.covariance[0][0] == pytest.approx((w * a**2).sum() / delta, rel=1e-10)
    # the applied error at a = 0 is the intercept's error
    assert scale.energy_err_keV(np.array([0.0]))[0] == pytest.approx(
        np.sqrt(scale.covariance[0][0])
    )


def test_amplitude_errors_propagate_through_the_slope():
    # exact two-point line through zero: σ_E = slope · σ_a at the point
    scale = fit_energy_scale([50.0], [25.0], amplitude_errors=[0.5], degree=1, through_zero=True)
    assert scale.coefficients == pytest.approx((0.0, 0.5))
    assert scale.energy_err_keV(np.array([50.0]))[0] == pytest.approx(0.25)
    quad = fit_energy_scale(
        [10, 20, 40, 80], [5.1, 10.4, 21.5, 45.0], amplitude_errors=[0.1] * 4, degree=2
    )
    assert quad.degree == 2
    assert quad.energy_keV(np.array([40.0]))[0] == pytest.approx(21.5, abs=0.3)


def test_scale_refuses_too_few_points_and_missing_errors():
    with pytest.raises(ValueError, match="cannot fix a degree-2"):
        fit_energy_scale([1.0, 2.0], [1.0, 2.0], energy_errors_keV=[0.1, 0.1], degree=2)
    with pytest.raises(ValueError, match="needs errors"):
        fit_energy_scale([1.0, 2.0], [1.0, 2.0])


def test_calibration_applies_to_events_and_round_trips(tmp_path):
    rng = np.random.default_rng(3)
    x = line_sample(rng, 200.0, 3.0, 3000, 170, 230, 1000)
    fit = fit_line(x, window=(170, 230))
    scale = fit_energy_scale(
        [fit.mean], [10.37], amplitude_errors=[fit.mean_err], through_zero=True
    )
    cal = Calibration(name="ge-demo", version="1", scale=scale, lines=((10.37, fit),))
    events = pd.DataFrame({"of_amplitude": [0.0, 200.0, 400.0]})
    out = cal.apply(events)
    np.testing.assert_allclose(
        out["energy_keV"], [0.0, 10.37 * 200 / fit.mean, 20.74 * 200 / fit.mean]
    )
    assert "energy_keV" not in events.columns  # input untouched
    path = cal.save(tmp_path / "cal.json")
    again = load_calibration(path)
    assert again == cal
    with pytest.raises(FileExistsError, match="version"):
        Calibration(name="ge-demo", version="2", scale=scale).save(path)
    with pytest.raises(KeyError, match="of_amplitude"):
        cal.apply(pd.DataFrame({"amp": [1.0]}))


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.update(schema="other/9"), "schema"),
        (lambda d: d.pop("version"), "'version'"),
        (lambda d: d["scale"].update(covariance=[[1.0]]), "covariance"),
    ],
)
def test_bad_artifacts_are_refused_naming_the_field(tmp_path, mutate, match):
    scale = fit_energy_scale([1.0, 2.0], [1.0, 2.0], energy_errors_keV=[0.1, 0.1])
    d = Calibration(name="x", version="1", scale=scale).to_dict()
    mutate(d)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    with pytest.raises(ValueError, match=match):
        load_calibration(p)
