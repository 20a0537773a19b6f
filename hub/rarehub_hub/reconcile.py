"""Before the hub starts: cancel the Slurm jobs of spawns that a stopped hub left pending.

JupyterHub re-checks only servers that were running when it stopped (those are re-attached by
``RareHubSlurmSpawner.poll``). A spawn still queued when the hub stopped leaves a job that no
hub will ever route to — it would hold resources until its wall time ends. The spawner saves
the job id right after ``sbatch`` and marks it ``started`` once the server is ready; here,
jobs without that mark are cancelled and their state cleared (JupyterHub then sees the
server stopped and cleans up). Jobs a stop could not cancel (``uncancelled`` in the state,
kept by the spawner) are cancelled here too. Runs once per ``rarehub-hub start``, before
JupyterHub, on the database and with the job name the hub is configured with
(:func:`hub_database_and_job_name`: the site YAML plus ``jupyterhub_config.d/``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .slurm_safety import JOB_ID, split_command

DEFAULT_JOB_NAME = "rarehub-jupyter"


def hub_config(site: Mapping[str, Any]):
    """The JupyterHub configuration the hub itself loads for ``site``: the site YAML mapped
    by :func:`~rarehub_hub.site.configure`, then ``<state_dir>/jupyterhub_config.d/*.py`` in
    name order (as ``jupyterhub_config.py`` does)."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    from .site import configure

    c = Config()
    configure(c, site)
    for extra in sorted((Path(site["state_dir"]) / "jupyterhub_config.d").glob("*.py")):
        loader = PyFileConfigLoader(extra.name, path=str(extra.parent))
        c.merge(loader.load_config())
    return c


def hub_database_and_job_name(site: Mapping[str, Any]) -> tuple[str, str]:
    """The database URL the hub uses (``JupyterHub.db_url``: SQLite in the state folder, or
    what the config files set, e.g. PostgreSQL) and its servers' Slurm job name
    (``RareHubSlurmSpawner.job_name``)."""
    c = hub_config(site)
    state_dir = Path(site["state_dir"])
    db_url = str(c.JupyterHub.get("db_url") or f"sqlite:///{state_dir / 'jupyterhub.sqlite'}")
    if db_url.startswith("sqlite:///") and not db_url.startswith("sqlite:////"):
        # relative to the folder the hub runs in (start.py: the state folder)
        db_url = f"sqlite:///{state_dir / db_url[len('sqlite:///') :]}"
    job_name = c.RareHubSlurmSpawner.get("job_name") or DEFAULT_JOB_NAME
    return str(db_url), str(job_name)


def hub_session(db_url: str):
    """A session on the hub's database, or FileNotFoundError for a SQLite file not there."""
    from jupyterhub import orm

    if db_url.startswith("sqlite:///"):
        path = Path(db_url[len("sqlite:///") :])
        if not path.exists():
            raise FileNotFoundError(f"{path}: no hub database yet (has the hub ever started?)")
    return orm.new_session_factory(db_url)()


def cancel_orphaned_jobs(site: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Cancel and forget jobs of spawns left pending, and jobs whose cancel failed earlier
    (``uncancelled`` in a spawner's state); return ``[(user, job_id), …]`` cancelled."""
    if site["deployment"] != "slurm":
        return []
    from jupyterhub import orm

    db_url, job_name = hub_database_and_job_name(site)
    try:
        session = hub_session(db_url)
    except FileNotFoundError:
        return []
    slurm = site["slurm"]
    env = {**os.environ, **slurm["environment"]}
    exec_prefix = split_command(slurm["exec_prefix"], "slurm.exec_prefix")
    cancelled = []
    try:
        for sp in session.query(orm.Spawner):
            state = dict(sp.state or {})
            user = sp.user.name
            prefix = [user if w == "{username}" else w for w in exec_prefix]
            jobs = [str(j) for j in state.get("uncancelled", []) if JOB_ID.fullmatch(str(j))]
            job = str(state.get("job_id", ""))
            pending_spawn = bool(JOB_ID.fullmatch(job)) and not state.get("started")
            if pending_spawn:
                jobs.append(job)  # a running server (started) is re-attached by poll()
            failed = []
            for j in jobs:
                r = subprocess.run(
                    [*prefix, "scancel", f"--name={job_name}", j],
                    env=env,
                    capture_output=True,
                    text=True,
                )
                if r.returncode != 0 and "Invalid job id" not in r.stderr:
                    print(
                        f"[rarehub] could not cancel job {j} of {user}: {r.stderr.strip()}",
                        file=sys.stderr,
                    )
                    failed.append(j)  # keep it: the next start tries again
                else:
                    cancelled.append((user, j))
            if not jobs:
                continue
            if pending_spawn and job not in failed:
                state = {}
            uncancelled = [j for j in failed if j != job or not pending_spawn]
            if uncancelled:
                state["uncancelled"] = uncancelled
            else:
                state.pop("uncancelled", None)
            sp.state = state
        session.commit()
    finally:
        session.close()
    for user, job in cancelled:
        print(
            f"[rarehub] cancelled job {job} of {user}: its spawn was pending when the hub "
            "stopped, or an earlier cancel had failed",
            file=sys.stderr,
        )
    return cancelled
