"""Steps: declarations fail fast, lineage keys results, stored results are reused,
processing streams chunk by chunk and gives the right physics."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis_lib.steps import (
    DEFAULT_STEPS,
    Option,
    Pipeline,
    PipelineError,
    RunInput,
    Step,
)
from analysis_lib.steps.pulse_steps import RawEvents

CONFIG = {
    "of_amplitudes": {"fall_us": 300.0, "window_us": 20.0},
    "raw_events": {"batch_events": 128},
}


def test_pipeline_makes_amplitudes_and_features(tmp_path, signal_run, raw_runs):
    pipe = Pipeline(DEFAULT_STEPS, CONFIG, storage=tmp_path)
    seen = []
    paths = pipe.make(signal_run, ["of_amplitudes", "features"], progress=seen.append)
    # one pass over the noise run (300 events, for the PSD), one over the signal run
    assert sum(seen) == 300 + 700
    assert seen.count(128) == 700 // 128  # signal chunks of batch_events
    of = pd.read_parquet(paths["of_amplitudes"])
    feats = pipe.load("features", signal_run)
    assert len(of) == len(feats) == 700
    np.testing.assert_array_equal(of["event"], np.arange(700))
    truth = raw_runs["amplitudes"]
    sigma = of["of_sigma"].iloc[0]
    pull = (of["of_amplitude"] - truth) / sigma
    assert abs(pull.mean()) < 0.3  # ADC rounding adds < 0.3 ADC rms
    assert 0.8 < pull.std() < 1.3
    assert np.all(np.abs(of["of_delay_s"]) <= 20e-6 + 1e-12)
    np.testing.assert_allclose(feats["baseline_mean"], 2000, atol=5)
    psd = pipe.load("noise_psd", signal_run)
    assert psd["n_traces"].iloc[0] == 300


def test_lineage_is_stored_and_same_lineage_is_reused(tmp_path, signal_run):
    pipe = Pipeline(DEFAULT_STEPS, CONFIG, storage=tmp_path)
    path = pipe.make(signal_run, "features")["features"]
    doc = json.loads(path.with_suffix(".lineage.json").read_text())
    assert doc["key"] == path.stem
    assert doc["lineage"]["version"] == "0.1.0"
    src = doc["lineage"]["inputs"]["raw_events"]["source"]
    assert src["sha256"] == list(signal_run.checksums)
    assert sum(doc["chunk_rows"]) == 700
    mtime = path.stat().st_mtime_ns
    seen = []
    again = Pipeline(DEFAULT_STEPS, CONFIG, storage=tmp_path)
    assert again.make(signal_run, "features", progress=seen.append)["features"] == path
    assert seen == []  # nothing recomputed, no pass over the data
    assert path.stat().st_mtime_ns == mtime


def test_changed_option_or_input_changes_the_key(tmp_path, signal_run):
    base = Pipeline(DEFAULT_STEPS, CONFIG, storage=tmp_path)
    k = base.key("of_amplitudes", signal_run)
    changed = Pipeline(
        DEFAULT_STEPS, {**CONFIG, "of_amplitudes": {"fall_us": 310.0}}, storage=tmp_path
    )
    assert changed.key("of_amplitudes", signal_run) != k
    # an upstream option (noise PSD) changes the downstream key too
    psd_opt = Pipeline(DEFAULT_STEPS, {**CONFIG, "noise_psd": {"max_traces": 10}}, storage=tmp_path)
    assert psd_opt.key("of_amplitudes", signal_run) != k
    assert psd_opt.key("features", signal_run) == base.key("features", signal_run)
    other_file = RunInput(
        signal_run.run_id, signal_run.files, ("0" * 64,), companions=signal_run.companions
    )
    assert base.key("of_amplitudes", other_file) != k


def test_per_chunk_results_are_reused_by_a_later_step(tmp_path, signal_run):
    class Energy(Step):
        provides = "energy"
        depends_on = ("of_amplitudes",)
        __version__ = "0.0.1"
        gain_ADC_per_keV = Option(40.0, help="ADC per keV")

        def compute(self, of_amplitudes):
            return pd.DataFrame(
                {"energy_keV": of_amplitudes["of_amplitude"] / self.gain_ADC_per_keV}
            )

    pipe = Pipeline([*DEFAULT_STEPS, Energy], CONFIG, storage=tmp_path)
    pipe.make(signal_run, "of_amplitudes")
    seen = []
    pipe.make(signal_run, "energy", progress=seen.append)
    assert sum(seen) == 700  # one pass, reading stored OF amplitudes row group by row group
    e = pipe.load("energy", signal_run)
    of = pipe.load("of_amplitudes", signal_run)
    np.testing.assert_allclose(e["energy_keV"], of["of_amplitude"] / 40.0)


class _A(Step):
    provides = "a"
    depends_on = ("raw_events",)
    __version__ = "1"

    def compute(self, raw_events):
        return pd.DataFrame({"x": np.zeros(len(raw_events))})


def test_bad_declarations_fail_at_construction_naming_the_problem(tmp_path):
    with pytest.raises(PipelineError, match=r"'a'.*depends on \['raw_events'\]"):
        Pipeline([_A], storage=tmp_path)
    with pytest.raises(PipelineError, match=r"no option.*'fal_us'"):
        Pipeline(DEFAULT_STEPS, {"of_amplitudes": {"fal_us": 3.0}}, storage=tmp_path)
    with pytest.raises(PipelineError, match=r"unknown step.*'featurez'"):
        Pipeline(DEFAULT_STEPS, {"featurez": {}}, storage=tmp_path)
    with pytest.raises(PipelineError, match="'window_us' must be float"):
        Pipeline(DEFAULT_STEPS, {"of_amplitudes": {"window_us": "wide"}}, storage=tmp_path)
    with pytest.raises(PipelineError, match="provided by both"):
        Pipeline([RawEvents, RawEvents], storage=tmp_path)

    class B(Step):
        provides = "b"
        depends_on = ("c",)
        __version__ = "1"

    class C(Step):
        provides = "c"
        depends_on = ("b",)
        __version__ = "1"

    with pytest.raises(PipelineError, match="cycle: b -> c -> b"):
        Pipeline([B, C], storage=tmp_path)


def test_bad_step_classes_fail_when_defined():
    with pytest.raises(PipelineError, match="__version__"):
        type("NoVersion", (Step,), {"provides": "x", "depends_on": ("y",)})
    with pytest.raises(PipelineError, match="provides"):
        type("NoName", (Step,), {"__version__": "1", "depends_on": ("y",)})
    with pytest.raises(PipelineError, match="depends_on is empty"):
        type("Orphan", (Step,), {"provides": "x", "__version__": "1"})


def test_empty_run_and_missing_files_are_clear_errors(tmp_path, raw_runs):
    from analysis_lib.io.raw import RawWriter

    with pytest.raises(PipelineError, match="no files"):
        RunInput("r1", (), ())
    empty = tmp_path / "empty.h5"
    with RawWriter(empty, sample_rate_Hz=625e3, channels=["A"], n_samples=1024):
        pass
    run = RunInput(
        "r9", (str(empty),), ("x",), companions={"noise": ((str(raw_runs["noise"]),), ("y",))}
    )
    pipe = Pipeline(DEFAULT_STEPS, CONFIG, storage=tmp_path / "s")
    with pytest.raises(PipelineError, match="empty run"):
        pipe.make(run, "features")
    assert not list((tmp_path / "s" / "r9").glob("features-*"))  # no half-written result
