import pytest

from analysis_lib.cli import main


def run(capsys, *argv):
    main(list(argv))
    return capsys.readouterr().out


def test_scan_list_query_show_verify(tmp_path, capsys, catalog_target):
    data = tmp_path / "data"
    data.mkdir()
    for n in (1, 2):
        (data / f"run{n:04d}.csv").write_text("a,b\n1,2\n")
    db = str(catalog_target)  # a SQLite file, or a server URL: the same commands
    out = run(
        capsys,
        "catalog",
        "--db",
        db,
        "scan",
        str(data),
        "--dataset",
        "d",
        "--detector",
        "ge1",
        "--run-type",
        "noise",
    )
    assert "added 2 file(s)" in out
    assert "added 0 file(s)" in run(
        capsys, "catalog", "--db", db, "scan", str(data), "--dataset", "d"
    )
    assert "run0002.csv" in run(capsys, "catalog", "--db", db, "list", "files")
    runs = run(capsys, "catalog", "--db", db, "list", "runs")
    assert "noise" in runs
    assert "ge1" in runs
    out_list = tmp_path / "noise.yaml"
    run(capsys, "catalog", "--db", db, "query", "--run-type", "noise", "--out", str(out_list))
    assert "run_number: 2" in out_list.read_text()
    assert '"size_bytes": 8' in run(
        capsys, "catalog", "--db", db, "show", str(data / "run0001.csv")
    )
    assert "2 ok, 0 bad" in run(capsys, "catalog", "--db", db, "verify")

    (data / "run0001.csv").write_text("a,b\n9,9\n")
    with pytest.raises(SystemExit) as e:
        main(["catalog", "--db", db, "verify"])
    assert e.value.code == 1
    assert "checksum-mismatch" in capsys.readouterr().out


def test_add_then_errors_are_one_line_messages(tmp_path, capsys):
    db = str(tmp_path / "catalog.sqlite")
    f = tmp_path / "x.parquet"
    f.write_bytes(b"PAR1")
    assert "added 1 file(s)" in run(
        capsys, "catalog", "--db", db, "add", str(f), "--dataset", "d", "--run", "3"
    )
    with pytest.raises(SystemExit) as e:
        main(["catalog", "--db", db, "add", str(f), "--dataset", "d"])
    assert e.value.code == 2
    assert "already in the catalog" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["catalog", "--db", str(tmp_path / "absent.sqlite"), "list", "runs"])
    assert "no catalog at" in capsys.readouterr().err


def test_simulated_files_record_their_generator_and_runs_get_flagged(tmp_path, capsys):
    db = str(tmp_path / "catalog.sqlite")
    f = tmp_path / "sim_run0001.root"
    f.write_bytes(b"root")
    cfg = tmp_path / "g4.yaml"
    cfg.write_text("physics_list: Shielding\nn_events: 100000\n")
    run(
        capsys,
        "catalog",
        "--db",
        db,
        "add",
        str(f),
        "--dataset",
        "csi-g4",
        "--run",
        "1",
        "--run-type",
        "simulation",
        "--generator",
        "Geant4",
        "--generator-version",
        "11.2",
        "--generator-config",
        str(cfg),
    )
    out = run(capsys, "catalog", "--db", db, "show", "csi-g4")
    assert '"generator": "Geant4"' in out
    assert '"physics_list": "Shielding"' in out
    run(
        capsys,
        "catalog",
        "--db",
        db,
        "flag",
        "--dataset",
        "csi-g4",
        "--run",
        "1",
        "--quality",
        "bad",
        "--flag",
        "wrong-geometry",
    )
    assert "(none)" in run(capsys, "catalog", "--db", db, "query", "--quality", "good")
    assert "csi-g4" in run(capsys, "catalog", "--db", db, "query", "--quality", "bad")
