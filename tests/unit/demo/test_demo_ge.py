import numpy as np
import pandas as pd
import pytest

from analysis_lib.catalog import Catalog
from analysis_lib.demo.cli import generate_demo
from analysis_lib.demo.ge import GE_PARAMETERS, noise_psd
from analysis_lib.io import RawFile, load_format, read_table
from analysis_lib.pulses.simulate import pulse_template


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    generate_demo(out, size="tiny", seed=1, experiments=("ge",), verbose=False)
    return out


def test_catalog_lists_runs_of_every_type_with_verified_files(demo):
    with Catalog.open(demo / "catalog.sqlite", create=False) as cat:
        runs = cat.runs(detector="ge1")
        assert set(runs.run_type) == {"noise", "calibration", "physics"}
        ds = cat.datasets().set_index("dataset").loc["ge-demo"]
        assert ds["simulated"]
        assert ds["generator_config"]["fs_Hz"] == 625e3
        assert (cat.verify()["status"] == "ok").all()
        formats = set(cat.files(dataset="ge-demo")["format"])
        assert {"hdf5", "binary", "parquet", "format-description"} <= formats


def test_catalog_holds_the_detector_mass_and_each_runs_live_time(demo):
    # what a rate in counts/keV/kg/day needs, for tutorials to read instead of hard-code
    with Catalog.open(demo / "catalog.sqlite", create=False) as cat:
        config = cat.datasets().set_index("dataset").loc["ge-demo", "generator_config"]
        runs = cat.runs(dataset="ge-demo").set_index("run_number")
    # a SuperCDMS SNOLAB Ge detector (Agnese et al., PRD 95 (2017) 082002)
    assert config["detector_mass_kg"] == 1.39
    for n, run in runs.iterrows():
        assert run["metadata"]["detector_mass_kg"] == 1.39
        duration_s = (run["end_utc"] - run["start_utc"]).total_seconds()
        # no dead time is simulated: the live time is the run's duration (catalog: µs)
        assert run["metadata"]["live_time_s"] == pytest.approx(duration_s, abs=1e-5), n
    # triggered runs at a 5 Hz mean event rate: live time ≈ events / 5 Hz
    physics = runs.loc[3, "metadata"]
    assert physics["live_time_s"] == pytest.approx(physics["n_events"] / 5.0, rel=0.25)


def test_raw_and_binary_daq_hold_the_same_samples(demo):
    fmt = load_format(demo / "ge" / "daq" / "ge_daq.ksy")
    bf = fmt.open(demo / "ge" / "daq" / "run0002_calibration.bin")
    bf.validate()
    with RawFile(demo / "ge" / "raw" / "run0002_calibration.h5") as raw:
        assert bf.n_records == raw.n_events
        assert raw.sample_rate_Hz == 625e3
        for i in (0, 7, raw.n_events - 1):
            np.testing.assert_array_equal(bf.records["samples"][i].reshape(4, -1), raw.event(i))
        np.testing.assert_array_equal(bf.table()["time_ns"], raw.event_table()["time_ns"])


def test_calibration_lines_sit_at_the_gain_times_energy(demo):
    """Template projection of the averaged K-line pulses recovers 10.37 keV × gain."""
    truth = read_table(demo / "ge" / "truth" / "run0002_calibration_truth.parquet")
    with RawFile(demo / "ge" / "raw" / "run0002_calibration.h5") as raw:
        n = raw.n_samples
        tmpl = pulse_template(n, fall_s=GE_PARAMETERS["fall_s"], rise_s=GE_PARAMETERS["rise_s"])
        for line in ("Ge71_K", "Ge71_L"):
            idx = np.flatnonzero(truth.source == line)
            assert len(idx) >= 5
            tr = raw.events(idx).astype(float).sum(axis=1)  # channel sum
            tr -= tr[:, : n // 2 - 10].mean(axis=1, keepdims=True)
            amp = (tr.mean(axis=0) @ tmpl) / (tmpl @ tmpl)
            want = GE_PARAMETERS["lines_keV"][line] * GE_PARAMETERS["gain_ADC_per_keV"]
            assert abs(amp / want - 1) < 0.1, (line, amp, want)


def test_noise_run_has_the_model_variance_and_no_pulses(demo):
    with RawFile(demo / "ge" / "raw" / "run0001_noise.h5") as raw:
        x = raw.events().astype(float)
    n = x.shape[-1]
    expected_var = noise_psd(n).sum() * 625e3 / n  # Parseval, one-sided PSD
    var = x.var(axis=-1).mean()
    assert abs(var / expected_var - 1) < 0.15
    assert np.abs(x - GE_PARAMETERS["baseline_ADC"]).max() < 12 * np.sqrt(expected_var)


def test_stream_is_over_a_second_with_pulses_at_the_true_onsets(demo):
    truth = pd.read_parquet(demo / "ge" / "truth" / "run0005_stream_truth.parquet")
    with RawFile(demo / "ge" / "raw" / "run0005_stream.h5") as raw:
        assert raw.stream_samples >= 625_000
        big = truth[truth.energy_true_keV > 5]
        assert len(big) >= 3
        for onset in big.onset_sample.astype(int):
            seg = raw.stream(onset - 200, onset + 400).astype(float).sum(axis=0)
            assert seg[250:].max() - np.median(seg[:150]) > 100  # ≥ 5 keV × 40 ADC/keV / 2
