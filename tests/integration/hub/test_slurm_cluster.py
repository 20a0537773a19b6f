"""The shared one-node Slurm: jobs run as an ordinary unix user and can run the shared env."""

from __future__ import annotations

import sys
from pathlib import Path

import slurm

USER = "rarehub-t1"


def test_job_as_other_user_runs_the_world_readable_env(slurm_cluster):
    user = slurm.ensure_unix_user(USER)
    python = Path(sys.prefix) / "bin" / "python"
    out = slurm_cluster.work_dir / "env-check-%j.out"
    job = slurm_cluster.sbatch(
        f"#!/bin/bash\nid -u\n{python} -c 'import jupyterhub, batchspawner; print(\"env ok\")'\n",
        "--mem=64M",
        f"--output={out}",
        user=USER,
    )
    slurm_cluster.wait_state(job, {"GONE"}, timeout=60)
    text = Path(str(out).replace("%j", job)).read_text()
    assert text.split() == [str(user.pw_uid), "env", "ok"], text


def test_memory_requests_fit_the_node(slurm_cluster):
    job = slurm_cluster.sbatch(
        "#!/bin/bash\nsleep 30\n", f"--mem={slurm_cluster.memory_MiB // 2}M", "--time=1"
    )
    assert slurm_cluster.wait_state(job, {"RUNNING"}, timeout=30) == "RUNNING"
    slurm_cluster.scancel(job)
    slurm_cluster.wait_state(job, {"GONE"}, timeout=30)
