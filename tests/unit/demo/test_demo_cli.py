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

    # a second run regenerates in place: same catalog content, nothing duplicated
    sha = Catalog.open(tmp_path / "catalog.sqlite").files()["sha256"].tolist()
    main(["demo", "--size", "tiny", "--out", str(tmp_path), "--only", "ge"])
    with Catalog.open(tmp_path / "catalog.sqlite") as cat:
        assert set(cat.datasets()["dataset"]) == {"ge-demo"}
        ge_sha = cat.files()["sha256"].tolist()
    assert set(ge_sha) <= set(sha), "deterministic: equal seeds give byte-identical files"
    assert "catalog:" in capsys.readouterr().out
