"""Before the hub starts: cancel the Slurm jobs of spawns that a stopped hub left pending.

JupyterHub re-checks only servers that were running when it stopped (those are re-attached by
``RareHubSlurmSpawner.poll``). A spawn still queued when the hub stopped leaves a job that no
hub will ever route to — it would hold resources until its wall time ends. The spawner saves
the job id right after ``sbatch`` and marks it ``started`` once the server is ready; here,
jobs without that mark are cancelled and their state cleared (JupyterHub then sees the
server stopped and cleans up). Runs once per ``rarehub-hub start``, before JupyterHub.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .slurm_safety import JOB_ID, split_command


def cancel_orphaned_jobs(site: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Cancel and forget jobs of spawns left pending; return ``[(user, job_id), …]``."""
    if site["deployment"] != "slurm":
        return []
    db = Path(site["state_dir"]) / "jupyterhub.sqlite"
    if not db.exists():
        return []
    from jupyterhub import orm

    slurm = site["slurm"]
    env = {**os.environ, **slurm["environment"]}
    exec_prefix = split_command(slurm["exec_prefix"], "slurm.exec_prefix")
    session = orm.new_session_factory(f"sqlite:///{db}")()
    cancelled = []
    try:
        for sp in session.query(orm.Spawner):
            state = sp.state or {}
            job = state.get("job_id", "")
            if not job or not JOB_ID.fullmatch(str(job)) or state.get("started"):
                continue  # nothing submitted, or a running server that poll() re-attaches
            user = sp.user.name
            prefix = [user if w == "{username}" else w for w in exec_prefix]
            r = subprocess.run(
                [*prefix, "scancel", "--name=rarehub-jupyter", job],
                env=env,
                capture_output=True,
                text=True,
            )
            if r.returncode != 0 and "Invalid job id" not in r.stderr:
                print(
                    f"[rarehub] could not cancel job {job} of {user}: {r.stderr.strip()}",
                    file=sys.stderr,
                )
                continue  # keep the state: the next start tries again
            sp.state = {}
            cancelled.append((user, job))
        session.commit()
    finally:
        session.close()
    for user, job in cancelled:
        print(
            f"[rarehub] cancelled job {job} of {user}: its spawn was pending when the hub stopped",
            file=sys.stderr,
        )
    return cancelled
