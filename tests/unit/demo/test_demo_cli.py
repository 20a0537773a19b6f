import time

import pandas as pd

from analysis_lib.beam.archive import BeamArchive
from analysis_lib.catalog import Catalog
from analysis_lib.cli import main


def test_tiny_demo_builds_both_experiments_into_one_catalog_quickly(tmp_path, capsys):
    t0 = time.monotonic()
    main(["demo", "--size", "tiny", "--out", str(tmp_path)])
    assert time.monotonic() - t0 < 60, "the tiny demo must generate in under a minute"
    events = pd.read_parquet(tmp_path / "coherent" / "csi_events.parquet")
    assert {"spill", "time_us", "energy_PE", "beam_on", "truth", "time_ns"} <= set(events)
    with Catalog.open(tmp_path / "catalog.sqlite", create=False) as cat:
        assert set(cat.datasets()["dataset"]) == {"ge-demo", "csi-demo", "sns-beam-demo"}
        assert set(cat.runs(quality="good", run_type="physics")["detector"]) >= {"ge1", "csi1"}
        assert (cat.verify()["status"] == "ok").all()
        assert cat.growth()["bytes_added"].sum() == cat.files()["size_bytes"].sum()
    arch = BeamArchive(tmp_path / "coherent" / "beam")
    assert set(arch.pvs()) == {"SNS:BEAM_POWER_MW", "SNS:POT_PER_SPILL"}
    assert [g.reason for g in arch.gaps("SNS:POT_PER_SPILL")] == ["archiver restart"]
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]

    # the exposure scaling is on record: the archived POT of each spill record is that of
    # the beam spills it stands for, the catalog's POT is their sum, the power is physical
    with Catalog.open(tmp_path / "catalog.sqlite", create=False) as cat:
        config = cat.datasets().set_index("dataset").loc["csi-demo", "generator_config"]
        run = cat.runs(dataset="csi-demo").iloc[0]["metadata"]
    k = config["SPILLS_PER_RECORD"]
    assert config["n_spills"] == run["n_spills"] == config["n_records"] * k > 1e8
    pot = arch.query("SNS:POT_PER_SPILL")["value"].to_numpy()
    assert abs(pot[pot > 0].mean() / (k * config["NOMINAL_POT_PER_SPILL"]) - 1) < 1e-3
    assert 0.8 * config["n_spills"] * config["NOMINAL_POT_PER_SPILL"] < run["pot"]
    assert pot.sum() < run["pot"] < pot.sum() * 1.1  # the archiver gap lost ~2 % of samples
    power = arch.query("SNS:BEAM_POWER_MW")["value"].to_numpy()
    assert abs(power[power > 0].mean() - config["NOMINAL_POWER_MW"]) < 0.05
    assert run["detector_mass_kg"] == config["DETECTOR_MASS_KG"]  # the catalog tells the truth

    # a second run regenerates in place: same catalog content, nothing duplicated
    sha = Catalog.open(tmp_path / "catalog.sqlite").files()["sha256"].tolist()
    main(["demo", "--size", "tiny", "--out", str(tmp_path), "--only", "ge"])
    with Catalog.open(tmp_path / "catalog.sqlite") as cat:
        assert set(cat.datasets()["dataset"]) == {"ge-demo"}
        ge_sha = cat.files()["sha256"].tolist()
    assert set(ge_sha) <= set(sha), "deterministic: equal seeds give byte-identical files"
    assert "catalog:" in capsys.readouterr().out
