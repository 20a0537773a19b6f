"""`rarehub ingest` on the real SuperCDMS file: a catalog run with the ODB's facts, the
file's checksums, events that feed the PSD and the optimal filter; a damaged file writes
nothing."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import shutil
import struct

import numpy as np
import pandas as pd
import pytest

from analysis_lib.catalog import Catalog
from analysis_lib.cli import main
from analysis_lib.ingest import IngestError, ingest_midas
from analysis_lib.io.scdms import FORMATS, open_scdms
from analysis_lib.pulses.noise import calc_psd
from analysis_lib.pulses.optimal_filter import OptimalFilter

REAL = FORMATS / "51230216_125838_F0001.mid.gz"
SERIES_RUN = 51230216125838


@pytest.fixture
def data(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    shutil.copy(REAL, d / REAL.name)
    return d


def test_ingest_registers_the_run_with_the_odb_and_checksums(data, capsys):
    db = data / "catalog.sqlite"
    main(["ingest", "--db", str(db), str(data / REAL.name)])
    out = json.loads(capsys.readouterr().out)
    assert out["run_number"] == SERIES_RUN
    assert out["triggers"] == {"borr": 1, "physics": 1}
    with Catalog.open(db, readonly=True) as cat:
        runs = cat.runs(dataset="supercdms")
        files = cat.files(dataset="supercdms", run=SERIES_RUN)
    assert len(runs) == 1
    run = runs.iloc[0]
    assert (run.run_number, run.run_type, run.detector) == (SERIES_RUN, "physics", "Det01")
    assert run.start_utc == pd.Timestamp(dt.datetime(2023, 2, 16, 20, 59, 13, tzinfo=dt.UTC))
    meta = run.metadata
    assert meta["sample_rate_hz"] == 625000.0
    assert meta["series"] == "51230216_125838"
    assert meta["detectors"]["Det01"]["detector_type"] == 710
    assert meta["odb"]["Detectors"]["Det01"]["DCRCInfo"]["Tower"] == 1
    assert len(meta["channels"]) == 12
    assert meta["channels"][0] == "Det01:P05"
    assert meta["samples_per_trace"] == {"borr": 32768, "physics": 3008}
    # where the pulse sits: the ODB's trigger geometry, and the onset measured in the same
    # pass (what the processing steps place the OF template at)
    det = meta["detectors"]["Det01"]
    assert det["phonon_pretrigger_offset_samples"] == 0
    assert det["phonon_daq_trigger_full_rate_sample"] == 16384
    onset = meta["phonon_pulse_onset"]
    assert onset == open_scdms(REAL).pulse_onset().as_dict()
    assert 0 <= onset["daq_trigger_on_pulse_sample"] < onset["on_pulse_sample"] < 1024
    (f,) = files.itertuples()
    assert f.format == "midas"
    assert f.sha256 == hashlib.sha256(REAL.read_bytes()).hexdigest()
    raw = gzip.decompress(REAL.read_bytes())
    assert f.metadata["uncompressed_sha256"] == hashlib.sha256(raw).hexdigest()
    assert f.metadata["uncompressed_bytes"] == len(raw)

    # the catalogued file's events feed the noise PSD and the optimal filter
    fs = meta["sample_rate_hz"]
    events = {e.trigger_type: e for e in open_scdms(f.path).events()}
    noise = events["borr"].traces.reshape(12, 32, 1024).transpose(1, 0, 2)  # 32 × 1024
    freqs, psd = calc_psd(noise, fs_Hz=fs)
    assert psd.shape == (12, 513)
    assert freqs[1] == pytest.approx(fs / 1024)
    trig = events["physics"]
    on = trig.traces[:, 1024:2048].astype(float)
    ch = int(np.argmax(on.max(axis=1) - np.median(trig.traces[:, :1024], axis=1)))
    pulse = on[ch] - np.median(on[ch][:100])
    template = pulse / pulse.max()
    amp = OptimalFilter(template, psd[ch], fs_Hz=fs).fit(on[ch][None, :]).amplitude[0]
    assert amp == pytest.approx(pulse.max(), rel=0.05)


def test_a_second_file_of_the_run_joins_it(data):
    db = data / "catalog.sqlite"
    ingest_midas(data / REAL.name, catalog=db)
    second = data / REAL.name.replace("F0001", "F0002")
    shutil.copy(REAL, second)
    out = ingest_midas(second, catalog=db)
    assert out["new_run"] is False
    with Catalog.open(db, readonly=True) as cat:
        assert len(cat.runs()) == 1
        assert sorted(cat.files(run=SERIES_RUN)["path"].map(lambda p: p.split("/")[-1])) == [
            REAL.name,
            second.name,
        ]


def test_a_damaged_file_writes_nothing(data, capsys):
    raw = gzip.decompress(REAL.read_bytes())
    bad = data / "51230216_125838_F0003.mid.gz"
    bad.write_bytes(gzip.compress(raw[:-100]))
    db = data / "catalog.sqlite"
    with pytest.raises(IngestError, match=r"nothing was written .*F0003.mid.gz: .*event serial 2"):
        ingest_midas(bad, catalog=db)
    assert not db.exists()  # the file is read to its end before the catalog is opened
    ingest_midas(data / REAL.name, catalog=db)
    with pytest.raises(SystemExit) as e:
        main(["ingest", "--db", str(db), str(bad)])
    assert e.value.code == 1
    assert "event serial 2" in capsys.readouterr().err
    with Catalog.open(db, readonly=True) as cat:
        assert len(cat.runs()) == 1
        assert list(cat.files()["path"].map(lambda p: p.split("/")[-1])) == [REAL.name]


def test_an_odb_trigger_offset_that_cannot_be_right_writes_nothing(data):
    raw = gzip.decompress(REAL.read_bytes())
    size = struct.unpack_from("<I", raw, 12)[0]
    key = '<key name="Phonon pre-trigger offset (samp)" type="INT">'
    xml = raw[16 : 16 + size].replace(key.encode() + b"0<", key.encode() + b"2048<")
    bad = data / "51230216_125838_F0004.mid"
    bad.write_bytes(raw[:12] + struct.pack("<I", len(xml)) + xml + raw[16 + size :])
    db = data / "catalog.sqlite"
    with pytest.raises(
        IngestError,
        match=r"F0004.mid: ODB key .*ReadoutControl/Phonon pre-trigger offset"
        r" \(samp\) = 2048 cannot be",
    ):
        ingest_midas(bad, catalog=db)
    assert not db.exists()


def test_another_writer_commits_while_ingest_hashes_the_file(data, monkeypatch):
    """The file is hashed before ingest's transaction opens: a second writer commits
    while the hash is being computed (it waited out its whole timeout when the hash was
    taken inside). The hash function is wrapped (it still hashes) to probe at that moment."""
    import analysis_lib.catalog.store as store

    db = data / "catalog.sqlite"
    Catalog.open(db, create=True).close()
    probes = []
    real_hash = store.sha256_file

    def hash_with_probe(path):
        try:
            with Catalog.open(db, timeout_s=0.5) as other:
                other.add_dataset(f"probe-{len(probes)}")
            probes.append("committed")
        except Exception as e:  # the catalog's error when the writer is held up
            probes.append(f"blocked: {e}")
        return real_hash(path)

    monkeypatch.setattr(store, "sha256_file", hash_with_probe)
    summary = ingest_midas(data / REAL.name, catalog=db, dataset="scdms")
    monkeypatch.undo()
    assert probes == ["committed"]
    with Catalog.open(db, readonly=True) as cat:
        row = cat.file(data / REAL.name)
    assert row["file_id"] == summary["file_id"]
    assert row["sha256"] == hashlib.sha256((data / REAL.name).read_bytes()).hexdigest()
