"""``rarehub-hub status``: users, their servers, Slurm jobs and states, for the admin.

Reads the hub's database (read-only queries) and asks ``squeue`` once; works while the hub
runs or not, so it also shows jobs that outlived a stopped hub.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .reconcile import hub_database_and_job_name, hub_session
from .slurm_squeue import SQUEUE_FORMAT, JobInfo, parse_squeue


@dataclass(frozen=True)
class ServerRow:
    user: str
    server: str
    job_id: str
    hub_state: str  # "running" (the hub routes to it), "pending", "stopped", "uncancelled"
    slurm_state: str
    node: str
    reason: str
    last_activity: str


def collect(site: Mapping[str, Any]) -> list[ServerRow]:
    """One row per server the hub knows (and per job a failed cancel left), joined with one
    ``squeue`` answer; on the database and with the job name the hub is configured with."""
    from jupyterhub import orm

    db_url, job_name = hub_database_and_job_name(site)
    session = hub_session(db_url)
    jobs: dict[str, JobInfo] = {}
    error = ""
    if site["deployment"] == "slurm":
        env = {**os.environ, **site["slurm"]["environment"]}
        r = subprocess.run(
            ["squeue", "-h", "-t", "all", "-n", job_name, "-o", SQUEUE_FORMAT],
            env=env,
            capture_output=True,
            text=True,
        )
        if r.returncode == 0:
            jobs = parse_squeue(r.stdout)
        else:
            error = r.stderr.strip() or f"squeue exit {r.returncode}"
    rows = []
    try:
        for user in session.query(orm.User).order_by(orm.User.name):
            for sp in user._orm_spawners:
                state = sp.state or {}
                job = state.get("job_id", "")
                if sp.server is not None:
                    hub_state = "running"
                elif job:
                    hub_state = "pending"
                else:
                    hub_state = "stopped"
                entries = [(job, hub_state)] + [
                    (str(j), "uncancelled") for j in state.get("uncancelled", [])
                ]
                for job_id, what in entries:
                    if what == "uncancelled" and not job_id:
                        continue
                    info = jobs.get(job_id)
                    slurm_state = info.state if info else ("?" if error and job_id else "")
                    rows.append(
                        ServerRow(
                            user=user.name,
                            server=sp.name or "(default)",
                            job_id=job_id,
                            hub_state=what,
                            slurm_state=slurm_state or ("GONE" if job_id else ""),
                            node=info.node if info else "",
                            reason=info.reason if info and info.reason != "None" else error,
                            last_activity=(
                                sp.last_activity.isoformat(timespec="seconds")
                                if sp.last_activity
                                else ""
                            ),
                        )
                    )
    finally:
        session.close()
    return rows


def format_rows(rows: list[ServerRow]) -> str:
    head = ("USER", "SERVER", "JOB", "HUB", "SLURM", "NODE", "REASON", "LAST ACTIVITY")
    table = [head] + [
        (
            r.user,
            r.server,
            r.job_id,
            r.hub_state,
            r.slurm_state,
            r.node,
            r.reason,
            r.last_activity,
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    )
