"""``rarehub process`` over a real catalog, locally and on a local Dask cluster."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis_lib.catalog.store import Catalog
from analysis_lib.cli import main
from analysis_lib.steps import DEFAULT_STEPS, Pipeline
from analysis_lib.steps.dask_runner import local_client, make_on_dask
from analysis_lib.steps.runs import run_inputs_from_catalog


@pytest.fixture
def catalog(tmp_path, raw_runs):
    path = tmp_path / "catalog.sqlite"
    with Catalog.open(path) as cat:
        cat.add_dataset("toy", detector="d1", description="step tests")
        for number, kind, f, day in (
            (1, "noise", raw_runs["noise"], 1),
            (2, "physics", raw_runs["signal"], 2),
        ):
            cat.add_run(
                "toy",
                number,
                run_type=kind,
                start=f"2026-01-0{day}T00:00:00Z",
                end=f"2026-01-0{day}T01:00:00Z",
            )
            cat.add_file(f, dataset="toy", run=number)
    return path


def test_runs_come_with_checksums_and_their_noise_companion(catalog, raw_runs):
    with Catalog.open(catalog, create=False) as cat:
        runs = run_inputs_from_catalog(cat, dataset="toy")
        rec = cat.file(raw_runs["signal"])
    assert [r.run_id for r in runs] == ["toy-run0002"]
    assert runs[0].checksums == (rec["sha256"],)
    assert runs[0].companions["noise"][0] == (str(raw_runs["noise"].resolve()),)


def test_process_command_stores_results_and_reuses_them(catalog, tmp_path, capsys):
    store = tmp_path / "store"
    argv = [
        "process",
        "--catalog",
        str(catalog),
        "--dataset",
        "toy",
        "--storage",
        str(store),
        "--option",
        "of_amplitudes.fall_us=300",
    ]
    main(argv)
    out = capsys.readouterr().out.split()
    paths = [p for p in out if p.endswith(".parquet")]
    assert len(paths) == 2
    assert len(pd.read_parquet(paths[0])) == 700
    mtimes = [p.stat().st_mtime_ns for p in store.rglob("*.parquet")]
    main(argv)  # same lineage: reused, not rewritten
    assert [p.stat().st_mtime_ns for p in store.rglob("*.parquet")] == mtimes


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--option", "of_amplitudes.fall=3"], "no option 'fall'"),
        (["--option", "of_amplitudes.fall_us=slow"], "must be float"),
        (["--run", "7"], "no run(s) [7]"),
    ],
)
def test_process_command_reports_bad_input(catalog, tmp_path, extra, message):
    argv = [
        "process",
        "--catalog",
        str(catalog),
        "--dataset",
        "toy",
        "--storage",
        str(tmp_path / "s"),
        *extra,
    ]
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert message in str(e.value)


def test_dask_runner_gives_the_same_results_as_the_local_runner(catalog, tmp_path):
    with Catalog.open(catalog, create=False) as cat:
        runs = run_inputs_from_catalog(cat, dataset="toy")
    config = {"of_amplitudes": {"fall_us": 300.0}}
    local = Pipeline(DEFAULT_STEPS, config, storage=tmp_path / "local")
    local_paths = local.make(runs[0], ["of_amplitudes", "features"])
    client = local_client(2)
    try:
        info = client.scheduler_info()
        assert info["address"].startswith("tcp://127.0.0.1:")  # loopback only
        assert all(w.startswith("tcp://127.0.0.1:") for w in info["workers"])
        res = make_on_dask(
            DEFAULT_STEPS,
            config,
            tmp_path / "dask",
            runs,
            ["of_amplitudes", "features"],
            client=client,
        )
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
    assert not isinstance(res[0], Exception), res[0]
    for target, path in local_paths.items():
        # same lineage → same key, and identical content
        assert res[0][target].endswith(path.name)
        pd.testing.assert_frame_equal(pd.read_parquet(res[0][target]), pd.read_parquet(path))
