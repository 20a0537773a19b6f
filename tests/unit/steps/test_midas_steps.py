"""An ingested SuperCDMS MIDAS run (the real file) through the standard steps: the noise PSD
from the random trigger, OF amplitudes and features of the physics trigger — equal to the
library functions on the same windows (tutorial 08's slicing), the template placed where
the file's pulses rise (measured, no hand-passed onset), with the file's checksum in the
lineage; a file damaged after ingest fails with the reader's named error, storing
nothing."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil

import numpy as np
import pytest

from analysis_lib.catalog import Catalog
from analysis_lib.cli import main
from analysis_lib.ingest import ingest_midas
from analysis_lib.io.midas import MidasError
from analysis_lib.io.scdms import FORMATS, PulseOnsetMeter, open_scdms
from analysis_lib.pulses.features import compute_features
from analysis_lib.pulses.noise import calc_psd
from analysis_lib.pulses.optimal_filter import OptimalFilter
from analysis_lib.pulses.simulate import pulse_template
from analysis_lib.steps import DEFAULT_STEPS, Pipeline
from analysis_lib.steps.core import PipelineError
from analysis_lib.steps.pulse_steps import RawChunk, pretrigger_samples
from analysis_lib.steps.runs import run_inputs_from_catalog

REAL = FORMATS / "51230216_125838_F0001.mid.gz"
# template of tutorial 08's fit to the channel sum (rise 130 µs, fall 227 µs); ±20 samples
# of delay; the onset is the file's (measured on its physics trigger), not passed
OF = {"rise_us": 130.0, "fall_us": 227.0, "window_us": 32.0}


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    d = tmp_path_factory.mktemp("midas-steps")
    shutil.copy(REAL, d / REAL.name)
    db = d / "catalog.sqlite"
    with Catalog.open(db) as cat:
        ingest_midas(d / REAL.name, catalog=cat, dataset="tf")
        (run,) = run_inputs_from_catalog(cat, dataset="tf")
    pipe = Pipeline(DEFAULT_STEPS, {"of_amplitudes": OF}, storage=d / "results")
    pipe.make(run, ["of_amplitudes", "features"])
    return {"dir": d, "db": db, "run": run, "pipe": pipe}


@pytest.fixture(scope="module")
def direct():
    """The events as tutorial 08 slices them: the physics trigger's on-pulse window
    (after 1024 downsampled pre-pulse samples) and the random trace in 1024-sample pieces."""
    f = open_scdms(REAL)
    on = f.metadata()["detectors"]["Det01"]["phonon_on_pulse_samples"]
    events = {e.trigger_type: e for e in f.events()}
    random, physics = events["borr"], events["physics"]
    pre = int(physics.pre_pulse_samples[0])
    n_ch, n = random.traces.shape
    noise = random.traces[:, : n // on * on].reshape(n_ch, n // on, on).transpose(1, 0, 2)
    return {
        "onset": f.pulse_onset().on_pulse_sample,
        "fs_Hz": f.metadata()["sample_rate_hz"],
        "noise_sum": noise.sum(axis=1, dtype=np.float32),
        "pulse_sum": physics.traces[:, pre : pre + on].sum(axis=0, dtype=np.float32),
        "event": physics.event_number,
    }


def test_steps_equal_the_library_on_the_same_events(ingested, direct):
    pipe, run = ingested["pipe"], ingested["run"]
    fs = direct["fs_Hz"]
    # noise PSD: the library's PSD of the pulse-free pieces (the step's ptp rejection)
    x = direct["noise_sum"]
    ptp = np.ptp(x, axis=1).astype(np.float64)
    kept = x[ptp <= 3.0 * np.median(ptp)]
    freq, psd = calc_psd(kept, fs_Hz=fs, detrend="constant")
    got = pipe.load("noise_psd", run)
    assert len(x) == 32
    assert got["n_traces"].iloc[0] == len(kept)
    np.testing.assert_array_equal(got["freq_Hz"], freq)
    np.testing.assert_allclose(got["psd_ADC2_per_Hz"], psd, rtol=1e-6)
    # OF: the library's filter with the template at the file's measured onset, on the
    # physics on-pulse window
    n = x.shape[1]
    res, of = _library_of(direct, got, round(direct["onset"]))
    w = round(OF["window_us"] * 1e-6 * fs)
    amp = pipe.load("of_amplitudes", run)
    assert amp["event"].tolist() == [direct["event"]]
    np.testing.assert_allclose(amp["of_amplitude"], res.amplitude, rtol=1e-5)
    np.testing.assert_allclose(amp["of_chi2"], res.chi2, rtol=1e-5)
    np.testing.assert_allclose(amp["of_delay_s"], res.delay_s, rtol=1e-9)
    np.testing.assert_allclose(amp["of_sigma"], of.sigma, rtol=1e-6)
    # the window convention puts the pulse where the template is: a clear, in-window fit
    assert amp["of_amplitude"].iloc[0] > 20 * amp["of_sigma"].iloc[0]
    assert abs(amp["of_delay_s"].iloc[0]) < w / fs
    # features: the library's on the same window, the pre-trigger region ending at the
    # file's onset — a positive pulse with its rise and fall (half the window, the old
    # default, took the pulse for baseline: peak -1501 ADC, rise and fall times 0)
    feats = pipe.load("features", run)
    lib = compute_features(
        direct["pulse_sum"][None], fs_Hz=fs, pretrigger_samples=round(direct["onset"])
    )
    for k, v in lib.items():
        np.testing.assert_allclose(feats[k], v, rtol=1e-6, err_msg=k)
    top = float(np.convolve(direct["pulse_sum"], np.ones(16) / 16, "same").max())
    base = float(np.median(direct["pulse_sum"][: round(direct["onset"])]))
    assert feats["peak_amplitude"].iloc[0] == pytest.approx(top - base, rel=0.15)
    assert 50e-6 < feats["rise_time_s"].iloc[0] < feats["peak_time_s"].iloc[0]
    assert feats["fall_time_s"].iloc[0] > 50e-6
    # the catalog holds the onset that ingest measured: the one the steps used
    with Catalog.open(ingested["db"], readonly=True) as cat:
        stored = cat.runs(dataset="tf").iloc[0].metadata["phonon_pulse_onset"]
    assert stored["on_pulse_sample"] == pytest.approx(direct["onset"], abs=1e-3)
    assert stored["on_pulse_samples"] == n


def _library_of(direct, psd, onset_samples):
    fs, n = direct["fs_Hz"], direct["pulse_sum"].shape[0]
    tmpl = pulse_template(
        n, fs_Hz=fs, pretrigger_samples=onset_samples,
        rise_s=OF["rise_us"] * 1e-6, fall_s=OF["fall_us"] * 1e-6,
    )  # fmt: skip
    of = OptimalFilter(tmpl, psd["psd_ADC2_per_Hz"].to_numpy(), fs_Hz=fs, dtype=np.float32)
    w = round(OF["window_us"] * 1e-6 * fs)
    res = of.fit(direct["pulse_sum"][None], window_samples=(-w, w), lowfreq_cutoff_Hz=10e3)
    return res, of


def test_the_file_s_onset_places_the_template_and_an_explicit_one_still_wins(
    ingested, direct, tmp_path
):
    pipe, run = ingested["pipe"], ingested["run"]
    auto = pipe.load("of_amplitudes", run).iloc[0]
    by_hand = Pipeline(
        DEFAULT_STEPS,
        {"of_amplitudes": {**OF, "pretrigger_fraction": 0.155}},  # tutorial 08's old value
        storage=tmp_path,
    )
    by_hand.make(run, ["of_amplitudes"])
    hand = by_hand.load("of_amplitudes", run).iloc[0]
    res, _ = _library_of(direct, pipe.load("noise_psd", run), int(0.155 * 1024))
    assert hand.of_amplitude == pytest.approx(res.amplitude[0], rel=1e-5)  # 0.155 was used
    fs = direct["fs_Hz"]
    print(
        f"OF amplitude: file's onset {auto.of_amplitude:.1f} ± {auto.of_sigma:.1f} ADC"
        f" (delay {auto.of_delay_s * fs:+.0f}, χ² {auto.of_chi2:.1f}); by hand 0.155:"
        f" {hand.of_amplitude:.1f} ± {hand.of_sigma:.1f} (delay {hand.of_delay_s * fs:+.0f},"
        f" χ² {hand.of_chi2:.1f})"
    )
    # the file's onset needs no delay to find the pulse; the hand value needed 4 samples,
    # and fits no better
    assert abs(auto.of_delay_s * fs) <= 1
    assert round(hand.of_delay_s * fs) == round(direct["onset"]) - int(0.155 * 1024)
    assert auto.of_chi2 <= hand.of_chi2
    assert auto.of_sigma == pytest.approx(hand.of_sigma, rel=1e-3)
    assert abs(auto.of_amplitude - hand.of_amplitude) < auto.of_sigma


@pytest.mark.parametrize("bad", [1.0, 1.5, -0.2])
def test_an_onset_that_cannot_be_right_is_refused_by_name(bad, tmp_path):
    for step in ("of_amplitudes", "features"):
        with pytest.raises(PipelineError, match=rf"{step}.*'pretrigger_fraction' = {bad}"):
            Pipeline(DEFAULT_STEPS, {step: {"pretrigger_fraction": bad}}, storage=tmp_path)


def test_without_a_measured_onset_the_half_trace_default_stays_and_says_what_to_pass():
    steps = {s.provides: s for s in DEFAULT_STEPS}
    traces = np.zeros((1, 1024), np.float32)
    events = {"event": np.zeros(1, np.int64)}
    told = RawChunk(traces, events, 625e3, "run.mid", None, "run.mid: no pulse onset")
    hdf5 = RawChunk(traces, events, 625e3, "run.h5")
    for name in ("of_amplitudes", "features"):
        step = steps[name]()
        with pytest.warns(UserWarning, match=rf"run.mid: no pulse onset.*{name}.pretrigger_fr"):
            assert pretrigger_samples(step, told) == 512
        assert pretrigger_samples(step, hdf5) == 512  # RareHub HDF5: as before, silently
        measured = RawChunk(traces, events, 625e3, "run.mid", 161.8)
        assert pretrigger_samples(step, measured) == 162
        assert pretrigger_samples(steps[name](pretrigger_fraction=0.25), measured) == 256


def test_lineage_names_the_midas_file_and_its_checksum(ingested):
    pipe, run = ingested["pipe"], ingested["run"]
    sha = hashlib.sha256((ingested["dir"] / REAL.name).read_bytes()).hexdigest()
    doc = json.loads(pipe.path("of_amplitudes", run).with_suffix(".lineage.json").read_text())
    inputs = doc["lineage"]["inputs"]
    for source in (
        inputs["raw_events"]["source"],
        inputs["noise_psd"]["inputs"]["noise_events"]["source"],
    ):
        assert source["files"] == [REAL.name]
        assert source["sha256"] == [sha]
        assert source["format"] == "midas"
    # the onset comes from the file: how it was measured is part of the key
    assert inputs["raw_events"]["source"]["pulse_onset"] == PulseOnsetMeter.METHOD
    assert doc["lineage"]["options"]["pretrigger_fraction"] == -1.0


def test_rarehub_process_reuses_the_same_results(ingested, capsys):
    pipe, run = ingested["pipe"], ingested["run"]
    path = pipe.path("of_amplitudes", run)
    before = path.stat().st_mtime_ns
    opts = [f"--option=of_amplitudes.{k}={v}" for k, v in OF.items()]
    main(
        ["process", "--catalog", str(ingested["db"]), "--dataset", "tf",
         "--storage", str(pipe.storage), *opts]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert f"{run.run_id}  of_amplitudes  {path}" in out
    assert path.stat().st_mtime_ns == before  # same lineage → reused, not recomputed


def test_file_damaged_after_ingest_fails_named_and_stores_nothing(ingested, tmp_path, capsys):
    bad = tmp_path / REAL.name
    raw = gzip.decompress(REAL.read_bytes())
    bad.write_bytes(gzip.compress(raw[: len(raw) - 1000], compresslevel=1))  # physics cut
    run = type(ingested["run"])(ingested["run"].run_id, (str(bad),), ingested["run"].checksums)
    pipe = Pipeline(DEFAULT_STEPS, {"of_amplitudes": OF}, storage=tmp_path / "results")
    with pytest.raises(MidasError, match=rf"{bad}.*serial 2.*offset"):
        pipe.make(run, ["of_amplitudes"])
    assert not list((tmp_path / "results").rglob("*.parquet"))


def test_rarehub_process_names_a_file_damaged_after_ingest(tmp_path, capsys):
    f = tmp_path / REAL.name
    shutil.copy(REAL, f)
    db = tmp_path / "catalog.sqlite"
    with Catalog.open(db) as cat:
        ingest_midas(f, catalog=cat, dataset="tf")
    raw = gzip.decompress(REAL.read_bytes())
    f.write_bytes(gzip.compress(raw[: len(raw) - 1000], compresslevel=1))
    args = ["process", "--catalog", str(db), "--dataset", "tf", "--storage", str(tmp_path / "r")]
    with pytest.raises(SystemExit, match="1 of 1 run"):
        main(args)
    err = capsys.readouterr().err
    assert "FAILED" in err
    assert str(f) in err
    assert "serial 2" in err
    assert not list((tmp_path / "r").rglob("*.parquet"))
