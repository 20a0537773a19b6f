"""Calibration and cut flow applied as steps; their artifacts' content keys the results."""

from __future__ import annotations

import numpy as np
import pytest

from analysis_lib.calib import Calibration, fit_energy_scale
from analysis_lib.cuts import Cut, CutFlow
from analysis_lib.steps import DEFAULT_STEPS, Energies, Pipeline, PipelineError, Selection

BASE = {"of_amplitudes": {"fall_us": 300.0}}


def write_artifacts(tmp_path, gain=40.0):
    scale = fit_energy_scale([gain * 10], [10.0], amplitude_errors=[0.5], through_zero=True)
    cal = Calibration(name="toy", version=f"g{gain}", scale=scale).save(
        tmp_path / f"cal-{gain}.json"
    )
    flow = CutFlow(
        [
            Cut("threshold", "energy_keV > 2.5"),
            Cut("chi2", "of_chi2 < 2000", "1024 samples: χ² ≈ 1024 ± 45"),
        ]
    )
    return cal, flow.save(tmp_path / "cuts.json")


def test_energies_and_selection_steps(tmp_path, signal_run, raw_runs):
    cal, cuts = write_artifacts(tmp_path)
    config = {**BASE, "energies": {"calibration": str(cal)}, "selection": {"cutflow": str(cuts)}}
    pipe = Pipeline([*DEFAULT_STEPS, Energies, Selection], config, storage=tmp_path / "s")
    pipe.make(signal_run, "selection")
    e = pipe.load("energies", signal_run)
    of = pipe.load("of_amplitudes", signal_run)
    np.testing.assert_allclose(e["energy_keV"], of["of_amplitude"] / 40.0)
    np.testing.assert_allclose(e["energy_err_keV"], np.abs(of["of_amplitude"]) / 40 * 0.5 / 400)
    sel = pipe.load("selection", signal_run)
    expect = (e["energy_keV"] > 2.5) & (of["of_chi2"] < 2000)
    np.testing.assert_array_equal(sel["passed"], expect)
    assert sel["cut_threshold"].sum() == (e["energy_keV"] > 2.5).sum()
    truth = raw_runs["amplitudes"] / 40.0
    assert sel["passed"].sum() == pytest.approx((truth > 2.5).sum(), abs=10)


def test_artifact_content_not_path_enters_the_key(tmp_path, signal_run):
    cal, _ = write_artifacts(tmp_path)
    other, _ = write_artifacts(tmp_path, gain=41.0)
    copy = tmp_path / "moved.json"
    copy.write_bytes(cal.read_bytes())

    def key(path):
        return Pipeline(
            [*DEFAULT_STEPS, Energies],
            {**BASE, "energies": {"calibration": str(path)}},
            storage=tmp_path,
        ).key("energies", signal_run)

    assert key(cal) == key(copy)
    assert key(cal) != key(other)
    with pytest.raises(PipelineError, match=r"'calibration'.*not a file"):
        key(tmp_path / "missing.json")
