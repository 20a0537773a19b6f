"""A stored result is always what its lineage says: artifacts are read by content at each
make, run ids cannot leave the storage, and stored row groups are checked against the
chunks that read them back."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from analysis_lib.calib import Calibration, fit_energy_scale
from analysis_lib.cuts import Cut, CutFlow
from analysis_lib.steps import DEFAULT_STEPS, Energies, Pipeline, PipelineError, RunInput, Selection
from analysis_lib.steps.pulse_steps import OFAmplitudes
from analysis_lib.steps.trigger_steps import Triggers

# 700 events in chunks of 100: seven row groups per stored result
CONFIG = {"of_amplitudes": {"fall_us": 300.0}, "raw_events": {"batch_events": 100}}


def write_artifacts(folder, gain=40.0):
    """A calibration of ``gain`` ADC/keV and a 2.5 keV threshold cut, saved in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    scale = fit_energy_scale([gain * 10], [10.0], amplitude_errors=[0.5], through_zero=True)
    cal = Calibration(name="toy", version=f"g{gain}", scale=scale).save(folder / "cal.json")
    cuts = CutFlow([Cut("threshold", "energy_keV > 2.5")]).save(folder / "cuts.json")
    return cal, cuts


def lineage_doc(path):
    return json.loads(path.with_suffix(".lineage.json").read_text())


def test_a_calibration_changed_in_place_is_used_under_its_new_key(tmp_path, signal_run):
    cal, _ = write_artifacts(tmp_path / "a")
    other, _ = write_artifacts(tmp_path / "b", gain=50.0)
    used = tmp_path / "calibration.json"
    used.write_bytes(cal.read_bytes())
    config = {**CONFIG, "energies": {"calibration": str(used)}}
    pipe = Pipeline([*DEFAULT_STEPS, Energies], config, storage=tmp_path / "store")
    first = pipe.make(signal_run, "energies")["energies"]
    of = pipe.load("of_amplitudes", signal_run)
    np.testing.assert_allclose(pq.read_table(first)["energy_keV"], of["of_amplitude"] / 40.0)

    used.write_bytes(other.read_bytes())  # the same Pipeline, the file edited in place
    second = pipe.make(signal_run, "energies")["energies"]
    assert second != first
    # made with the new content (was: the first calibration, cached, under the new key) …
    np.testing.assert_allclose(pq.read_table(second)["energy_keV"], of["of_amplitude"] / 50.0)
    # … and its lineage names that content
    sha = hashlib.sha256(used.read_bytes()).hexdigest()
    assert lineage_doc(second)["lineage"]["calibration_sha256"] == sha
    assert lineage_doc(first)["lineage"]["calibration_sha256"] != sha


def test_a_cut_flow_changed_in_place_is_used_under_its_new_key(tmp_path, signal_run):
    cal, cuts = write_artifacts(tmp_path)
    config = {**CONFIG, "energies": {"calibration": str(cal)}, "selection": {"cutflow": str(cuts)}}
    pipe = Pipeline([*DEFAULT_STEPS, Energies, Selection], config, storage=tmp_path / "s")
    first = pipe.make(signal_run, "selection")["selection"]
    CutFlow([Cut("threshold", "energy_keV > 6.0")]).save(cuts.with_name("new.json"))
    cuts.write_bytes(cuts.with_name("new.json").read_bytes())
    second = pipe.make(signal_run, "selection")["selection"]
    assert second != first
    e = pipe.load("energies", signal_run)
    sel = pq.read_table(second).to_pandas()
    assert list(sel.columns) == ["event", "cut_threshold", "passed"]
    np.testing.assert_array_equal(sel["passed"], e["energy_keV"] > 6.0)


@pytest.mark.parametrize(
    "run_id", ["..", ".", ".hidden", "a/b", "", "-x", "run\n1", "é", "x" * 201]
)
def test_run_ids_that_could_leave_or_hide_in_the_storage_are_refused(run_id):
    with pytest.raises(PipelineError, match="run_id"):
        RunInput(run_id, ("f.h5",), ("0" * 64,))


def test_run_files_must_be_strings():
    with pytest.raises(PipelineError, match="files must be a sequence of non-empty strings"):
        RunInput("run1", "f.h5", ("0" * 64,))
    with pytest.raises(PipelineError, match="checksums"):
        RunInput("run1", ("f.h5",), (None,))
    assert RunInput("ge-demo-run0001.v2", ("f.h5",), ("s",)).run_id == "ge-demo-run0001.v2"


@pytest.fixture
def stored_amplitudes(tmp_path, signal_run):
    """A pipeline with OF amplitudes and features stored (seven row groups each)."""
    pipe = Pipeline(DEFAULT_STEPS, CONFIG, storage=tmp_path / "store")
    paths = pipe.make(signal_run, ["of_amplitudes", "features"])
    assert pq.ParquetFile(paths["of_amplitudes"]).num_row_groups == 7
    return pipe, paths["of_amplitudes"]


def test_stored_row_groups_of_other_chunks_are_refused_not_joined(
    tmp_path, signal_run, stored_amplitudes
):
    pipe, of_path = stored_amplitudes
    f = pq.ParquetFile(of_path)
    groups = [f.read_row_group(i) for i in range(f.num_row_groups)]
    f.close()
    # the same rows and sizes, row groups 0 and 1 swapped (metadata and key kept)
    with pq.ParquetWriter(of_path, groups[0].schema) as w:
        for g in (groups[1], groups[0], *groups[2:]):
            w.write_table(g)
    cal, _ = write_artifacts(tmp_path)
    energies = Pipeline(
        [*DEFAULT_STEPS, Energies],
        {**CONFIG, "energies": {"calibration": str(cal)}},
        storage=pipe.storage,
    )
    # was: energies of events 100…199 stored as chunk 0, silently
    with pytest.raises(PipelineError, match=r"row group 0 holds events 100…199 \(100\)"):
        energies.make(signal_run, "energies")
    assert not energies.is_stored("energies", signal_run)


def test_stored_results_chunked_otherwise_are_refused_naming_the_file(
    tmp_path, signal_run, stored_amplitudes
):
    pipe, of_path = stored_amplitudes
    table = pq.read_table(of_path)
    with pq.ParquetWriter(of_path, table.schema) as w:
        w.write_table(table, row_group_size=350)  # two row groups of 350 rows
    cal, _ = write_artifacts(tmp_path)
    energies = Pipeline(
        [*DEFAULT_STEPS, Energies],
        {**CONFIG, "energies": {"calibration": str(cal)}},
        storage=pipe.storage,
    )
    with pytest.raises(PipelineError, match=r"row group 0 has 350 rows, but source chunk 0 has"):
        energies.make(signal_run, "energies")
    # fewer rows than chunks: named too
    with pq.ParquetWriter(of_path, table.schema) as w:
        w.write_table(table.slice(0, 100))
    with pytest.raises(PipelineError, match=str(of_path) + r": 1 row groups, but the source"):
        energies.make(signal_run, "energies")


def test_a_stored_file_written_under_another_key_is_refused(
    tmp_path, signal_run, stored_amplitudes
):
    pipe, of_path = stored_amplitudes
    table = pq.read_table(of_path)
    meta = {**table.schema.metadata, b"rarehub.lineage_key": b"of_amplitudes-0123456789abcdef"}
    pq.write_table(table.replace_schema_metadata(meta), of_path, row_group_size=100)
    cal, _ = write_artifacts(tmp_path)
    energies = Pipeline(
        [*DEFAULT_STEPS, Energies],
        {**CONFIG, "energies": {"calibration": str(cal)}},
        storage=pipe.storage,
    )
    with pytest.raises(PipelineError, match="written under lineage key 'of_amplitudes-0123"):
        energies.make(signal_run, "energies")


@pytest.mark.parametrize("step_class", [OFAmplitudes, Triggers])
def test_optimal_filters_follow_the_noise_psd_content_not_its_identity(step_class):
    """The filter was cached by id(psd): a freed PSD frame's id is reused by the next run's
    PSD, which then got the old run's filter. Same frame, new content, stands for that."""
    n, fs = 256, 625e3
    psd = pd.DataFrame(
        {"freq_Hz": np.fft.rfftfreq(n, 1 / fs), "psd_ADC2_per_Hz": np.full(n // 2 + 1, 1e-3)}
    )
    step = step_class()
    step.start()

    def make_filter():
        return step._filter(n, fs, psd) if step_class is OFAmplitudes else step._filter(fs, psd)

    first = make_filter()
    assert make_filter() is first  # same content: reused
    psd["psd_ADC2_per_Hz"] *= 4  # same frame and id, four times the noise power
    second = make_filter()
    assert second is not first
    assert second.sigma == pytest.approx(2 * first.sigma)  # resolution ∝ √PSD
