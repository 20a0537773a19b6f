"""Cuts select what their expressions say; the cut flow counts survivors step by step."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis_lib.cuts import Cut, CutFlow, load_cutflow


@pytest.fixture
def events():
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "energy_keV": rng.exponential(5.0, 1000),
            "of_chi2": rng.chisquare(100, 1000),
            "baseline_slope_per_s": rng.normal(0, 1, 1000),
        }
    )


def test_cut_flow_counts_and_efficiencies(events):
    energy = Cut("energy", "energy_keV > 1", "analysis threshold 1 keV")
    chi2 = Cut("chi2", "of_chi2 < 130", "pulse-shape χ²")
    slope = Cut("slope", "abs(baseline_slope_per_s) < 2", "stable baseline")
    mask, table = CutFlow([energy, chi2, slope]).apply(events)
    e = events
    m1 = e.energy_keV > 1
    m2 = m1 & (e.of_chi2 < 130)
    m3 = m2 & (e.baseline_slope_per_s.abs() < 2)
    np.testing.assert_array_equal(mask, m3)
    assert table["cut"].tolist() == ["all events", "energy", "chi2", "slope"]
    assert table["passed"].tolist() == [1000, m1.sum(), m2.sum(), m3.sum()]
    assert table["efficiency"].iloc[2] == pytest.approx(m2.sum() / m1.sum())
    assert table["cumulative_efficiency"].iloc[3] == pytest.approx(m3.sum() / 1000)


def test_composition_matches_boolean_algebra(events):
    a = Cut("a", "energy_keV > 2")
    b = Cut("b", "of_chi2 < 100")
    np.testing.assert_array_equal((a & b).mask(events), a.mask(events) & b.mask(events))
    np.testing.assert_array_equal((a | b).mask(events), a.mask(events) | b.mask(events))
    np.testing.assert_array_equal((~a).mask(events), ~a.mask(events))
    assert (a & b).expression == "(energy_keV > 2) & (of_chi2 < 100)"


def test_definitions_and_table_are_stored_and_reloaded(events, tmp_path):
    flow = CutFlow([Cut("energy", "energy_keV > 1", "threshold")], name="demo")
    _, table = flow.apply(events)
    path = flow.save(tmp_path / "cuts.json", table=table)
    again = load_cutflow(path)
    assert again.cuts == flow.cuts
    assert again.name == "demo"
    np.testing.assert_array_equal(again.apply(events)[0], flow.apply(events)[0])


def test_empty_table_gives_nan_efficiency():
    _, table = CutFlow([Cut("e", "energy_keV > 1")]).apply(pd.DataFrame({"energy_keV": []}))
    assert table["passed"].tolist() == [0, 0]
    assert np.isnan(table["efficiency"].iloc[1])


def test_bad_cuts_are_refused(events):
    with pytest.raises(KeyError, match="energy_kev"):
        Cut("typo", "energy_kev > 1").mask(events)
    with pytest.raises(ValueError, match="boolean"):
        Cut("notbool", "energy_keV + 1").mask(events)
    with pytest.raises(ValueError, match="repeated"):
        CutFlow([Cut("a", "energy_keV > 1"), Cut("a", "energy_keV > 2")])
    with pytest.raises(ValueError, match="name"):
        Cut("bad name!", "energy_keV > 1")
