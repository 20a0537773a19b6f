"""The offline trigger as a pipeline step, on the Ge demo's continuous-stream run.

The reference is the demo generator's truth table (onset sample, time and energy of
every pulse it injected into the stream), not our filter.
"""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from analysis_lib.catalog.store import Catalog, sha256_file
from analysis_lib.cli import main
from analysis_lib.demo.cli import generate_demo
from analysis_lib.demo.ge import GE_PARAMETERS, GE_SIZES
from analysis_lib.steps import DEFAULT_STEPS, Pipeline, PipelineError, RunInput
from analysis_lib.steps.runs import continuous_run_ids, run_inputs_from_catalog

THRESHOLD = 8.0  # σ: no noise triggers in ~1 s of stream, every demo pulse well above
N = GE_SIZES["tiny"].n_samples
FS = GE_PARAMETERS["fs_Hz"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    catalog = generate_demo(out, size="tiny", seed=3, experiments=("ge",), verbose=False)
    with Catalog.open(catalog, create=False) as cat:
        (stream_id,) = continuous_run_ids(cat, dataset="ge-demo")
        runs = run_inputs_from_catalog(cat, dataset="ge-demo", runs=[int(stream_id[-4:])])
    truth = pd.read_parquet(next((out / "ge" / "truth").glob("*_stream_truth.parquet")))
    return {"catalog": catalog, "run": runs[0], "truth": truth}


def config(**triggers):
    return {"triggers": {"threshold_sigma": THRESHOLD, **triggers}}


def expected_pulses(truth: pd.DataFrame, total_samples: int, sigma: float) -> pd.DataFrame:
    """Truth pulses the trigger must find: ≥ 12 σ (clear of the 8 σ threshold), whole
    trace inside the stream, and no other pulse within a trace length (no pile-up)."""
    amp = truth["energy_true_keV"].to_numpy() * GE_PARAMETERS["gain_ADC_per_keV"]
    t = truth["onset_sample"].to_numpy()
    keep = (amp >= 12 * sigma) & (t > N) & (t < total_samples - N)
    for i in range(len(t)):
        if np.sum(np.abs(t - t[i]) < N) > 1:
            keep[i] = False
    return truth.assign(amplitude_ADC=amp)[keep]


def test_triggers_find_the_demo_stream_pulses_with_times_and_energies(demo, tmp_path):
    pipe = Pipeline(DEFAULT_STEPS, config(), storage=tmp_path)
    path = pipe.make(demo["run"], "triggers")["triggers"]
    trig = pd.read_parquet(path)
    sigma = trig["of_sigma"].iloc[0]
    from analysis_lib.io.raw import RawFile

    with RawFile(demo["run"].files[0]) as raw:
        total = raw.stream_samples
    want = expected_pulses(demo["truth"], total, sigma)
    assert len(want) >= 5
    found = trig["onset_sample"].to_numpy()
    assert np.all(np.diff(found) > 0)
    # every expected pulse found at its onset (jitter grows as the pulse shrinks) …
    for _, p in want.iterrows():
        j = np.argmin(np.abs(found - p["onset_sample"]))
        tol = 2 if p["amplitude_ADC"] > 50 * sigma else 8
        assert abs(found[j] - p["onset_sample"]) <= tol, p
        assert abs(trig["time_ns"].iloc[j] - p["time_ns"]) <= (tol + 0.5) * 1e9 / FS
        # the refit OF amplitude is the injected pulse height within the resolution
        assert trig["of_amplitude"].iloc[j] == pytest.approx(p["amplitude_ADC"], abs=5 * sigma)
    # … and every trigger is a real pulse (no noise triggers, no filter side lobes)
    truth_t = demo["truth"]["onset_sample"].to_numpy()
    assert np.all(np.min(np.abs(found[:, None] - truth_t[None, :]), axis=1) <= 8)
    assert set(trig["file"]) == {demo["run"].files[0].rsplit("/", 1)[-1]}


def test_stored_triggers_are_reused_and_a_new_threshold_gives_a_new_key(demo, tmp_path):
    run = demo["run"]
    pipe = Pipeline(DEFAULT_STEPS, config(), storage=tmp_path)
    path = pipe.make(run, "triggers")["triggers"]
    doc = json.loads(path.with_suffix(".lineage.json").read_text())
    assert doc["key"] == path.stem
    assert doc["lineage"]["options"]["threshold_sigma"] == THRESHOLD
    assert doc["lineage"]["inputs"]["stream_samples"]["source"]["sha256"] == list(run.checksums)
    assert "noise_psd" in doc["lineage"]["inputs"]
    mtime = path.stat().st_mtime_ns

    # same lineage (the read block size is not part of it) → the stored result is reused
    same = Pipeline(
        DEFAULT_STEPS,
        {**config(), "stream_samples": {"block_samples": 10_000}},
        storage=tmp_path,
    )
    assert same.path("triggers", run) == path
    seen = []
    assert same.make(run, "triggers", progress=seen.append)["triggers"] == path
    assert seen == []
    assert path.stat().st_mtime_ns == mtime

    # a changed threshold → a new key; the lower threshold finds a superset
    lower = Pipeline(DEFAULT_STEPS, config(threshold_sigma=6.0), storage=tmp_path)
    path6 = lower.make(run, "triggers")["triggers"]
    assert path6 != path
    assert path.is_file()
    hi, lo = pd.read_parquet(path), pd.read_parquet(path6)
    assert set(hi["onset_sample"]) <= set(lo["onset_sample"])
    # a threshold nothing reaches stores an empty, typed table (not "nothing")
    none = Pipeline(DEFAULT_STEPS, config(threshold_sigma=1e6), storage=tmp_path)
    empty = pd.read_parquet(none.make(run, "triggers")["triggers"])
    assert len(empty) == 0
    assert list(empty.columns) == list(hi.columns)


def traced_peak(pipe: Pipeline, run: RunInput) -> tuple[int, pd.DataFrame]:
    """Peak traced Python/NumPy memory while making ``triggers`` (the noise PSD made
    beforehand: its pass reads event batches, not the stream)."""
    pipe.make(run, "noise_psd")
    tracemalloc.start()
    try:
        path = pipe.make(run, "triggers")["triggers"]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, pd.read_parquet(path)


def test_block_size_does_not_change_triggers_and_memory_stays_bounded(demo, tmp_path):
    run = demo["run"]
    ref = pd.read_parquet(
        Pipeline(DEFAULT_STEPS, config(), storage=tmp_path / "a").make(run, "triggers")["triggers"]
    )
    small_blocks = {**config(), "stream_samples": {"block_samples": 1 << 13}}
    peak, trig = traced_peak(Pipeline(DEFAULT_STEPS, small_blocks, storage=tmp_path / "b"), run)
    pd.testing.assert_frame_equal(trig, ref)

    # the same stream five times over in one file (a real RareHub raw file): 5× the
    # samples, 5× the triggers, the same peak memory
    from analysis_lib.io.raw import RawFile, RawWriter

    long_path = tmp_path / "long_stream.h5"
    with (
        RawFile(run.files[0]) as raw,
        RawWriter(long_path, sample_rate_Hz=raw.sample_rate_Hz, channels=raw.channels) as w,
    ):
        total = raw.stream_samples
        for _ in range(5):
            for _, block in raw.stream_blocks(1 << 17):
                w.append_stream(block)
    long_run = RunInput(
        "long", (str(long_path),), (sha256_file(long_path),), companions=run.companions
    )
    peak_long, trig_long = traced_peak(
        Pipeline(DEFAULT_STEPS, small_blocks, storage=tmp_path / "c"), long_run
    )
    assert len(trig_long) >= 5 * len(trig) - 4  # seams may cut a pulse's trace
    np.testing.assert_array_equal(trig_long["onset_sample"][: len(trig)], trig["onset_sample"])
    stream_bytes = 5 * total * 8  # the long summed stream as float64
    assert peak_long < 1.2 * peak + 100_000, (peak, peak_long)
    assert peak_long < stream_bytes / 15, f"peak {peak_long / 1e6:.2f} MB"


def test_process_command_triggers_continuous_runs_by_default(demo, tmp_path, capsys):
    run_number = demo["run"].run_id[-4:]
    argv = ["process", "--catalog", str(demo["catalog"]), "--dataset", "ge-demo"]
    argv += ["--storage", str(tmp_path), "--run", run_number]
    main([*argv, "--option", f"triggers.threshold_sigma={THRESHOLD}"])
    out = capsys.readouterr().out.split()
    (path,) = [p for p in out if p.endswith(".parquet")]
    assert "triggers" in out
    assert "/triggers-" in path
    assert len(pd.read_parquet(path)) >= 5


def test_a_run_without_a_stream_is_refused_naming_it(demo, tmp_path):
    with Catalog.open(demo["catalog"], create=False) as cat:
        (physics, *_) = run_inputs_from_catalog(cat, dataset="ge-demo", run_types=["physics"])
    pipe = Pipeline(DEFAULT_STEPS, config(), storage=tmp_path)
    with pytest.raises(PipelineError, match="continuous stream"):
        pipe.make(physics, "triggers")
    with pytest.raises(PipelineError, match="threshold_sigma"):
        Pipeline(DEFAULT_STEPS, {"triggers": {"threshold_sigma": "high"}}, storage=tmp_path)
