"""The processing pipeline on Dask workers that run as jobs on the real one-node Slurm.

Workers are started by dask-jobqueue's ``SLURMCluster`` through ``sbatch`` on the shared
``slurm_cluster`` fixture; scheduler and workers listen on loopback only. The results
must equal the local runner's, under the same lineage keys.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis_lib.catalog.store import sha256_file
from analysis_lib.io.raw import RawWriter
from analysis_lib.pulses.simulate import noise_psd_model, simulate_traces
from analysis_lib.steps import DEFAULT_STEPS, Pipeline, RunInput
from analysis_lib.steps.dask_runner import make_on_dask

REPO = Path(__file__).resolve().parents[3]
FS, N = 625e3, 1024


def _write(path: Path, amps, seed: int) -> Path:
    psd = noise_psd_model(N, fs_Hz=FS)
    tr = simulate_traces(np.asarray(amps, float), n_samples=N, psd=psd, rng=seed, fall_s=300e-6)
    with RawWriter(path, sample_rate_Hz=FS, channels=["A"], n_samples=N) as w:
        w.append_events(np.rint(tr).astype(np.int16)[:, None, :], time_ns=0)
    return path


def test_pipeline_runs_on_dask_workers_submitted_as_slurm_jobs(slurm_cluster, monkeypatch):
    from dask_jobqueue import SLURMCluster
    from distributed import Client

    work = Path(slurm_cluster.work_dir) / f"dask-steps-{time.time_ns()}"
    work.mkdir(mode=0o777)
    noise = _write(work / "noise.h5", np.zeros(100), 1)
    runs = []
    for i in range(2):
        f = _write(work / f"run{i}.h5", np.linspace(50, 300, 200), 10 + i)
        runs.append(
            RunInput(
                f"run{i}",
                (str(f),),
                (sha256_file(f),),
                companions={"noise": ((str(noise),), (sha256_file(noise),))},
            )
        )
    config = {"of_amplitudes": {"fall_us": 300.0}}
    targets = ["of_amplitudes", "features"]
    monkeypatch.setenv("SLURM_CONF", slurm_cluster.env["SLURM_CONF"])
    cluster = SLURMCluster(
        queue=slurm_cluster.partition,
        cores=1,
        processes=1,
        memory="1GiB",
        walltime="00:10:00",
        python=sys.executable,
        interface="lo",
        scheduler_options={"host": "127.0.0.1", "dashboard_address": None},
        job_script_prologue=[f"export PYTHONPATH={REPO}"],
        log_directory=str(work / "logs"),
    )
    try:
        cluster.scale(jobs=2)
        with Client(cluster) as client:
            client.wait_for_workers(2, timeout=120)
            info = client.scheduler_info()
            assert info["address"].startswith("tcp://127.0.0.1:")
            assert all(w.startswith("tcp://127.0.0.1:") for w in info["workers"])
            jobs = slurm_cluster.squeue()
            assert sum(state == "RUNNING" for state in jobs.values()) >= 2
            results = make_on_dask(
                DEFAULT_STEPS, config, work / "store", runs, targets, client=client
            )
    finally:
        cluster.close()
    local = Pipeline(DEFAULT_STEPS, config, storage=work / "local")
    for run, res in zip(runs, results, strict=True):
        assert not isinstance(res, Exception), res
        for t, path in local.make(run, targets).items():
            assert Path(res[t]).name == path.name
            pd.testing.assert_frame_equal(pd.read_parquet(res[t]), pd.read_parquet(path))
    assert pytest.approx(200) == len(pd.read_parquet(results[0]["features"]))
