"""Reconcile (before the hub starts) and ``rarehub-hub status`` read the hub's own database
and job name — what the site YAML and ``jupyterhub_config.d/`` configure — not a fixed file.

The database is a real JupyterHub database (SQLite, made by JupyterHub's own ``orm``) at a
path only a config file names; ``scancel``/``squeue`` are shell scripts on the test's PATH
(the real Slurm runs reconcile in tests/integration/hub/test_slurm_hub.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rarehub_hub.reconcile import cancel_orphaned_jobs, hub_database_and_job_name
from rarehub_hub.site import validate_site
from rarehub_hub.status import collect


@pytest.fixture
def site(tmp_path) -> dict:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in {
        "scancel": 'echo "$*" >> "$(dirname "$0")/scancel.calls"\n'
        'case "$*" in *13*) echo "Unable to contact slurm controller" >&2; exit 1;; esac',
        "squeue": "echo '11|RUNNING|node1|2026-12-06T17:00:00|None'",
    }.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    state = tmp_path / "state"
    (state / "jupyterhub_config.d").mkdir(parents=True)
    db = tmp_path / "elsewhere" / "hub.sqlite"
    db.parent.mkdir()
    (state / "jupyterhub_config.d" / "20-db.py").write_text(
        f"c.JupyterHub.db_url = 'sqlite:///{db}'\nc.RareHubSlurmSpawner.job_name = 'site-jupyter'\n"
    )
    return validate_site(
        {
            "deployment": "slurm",
            "state_dir": str(state),
            "auth": {"type": "pam", "allowed_users": ["alice"]},
            "slurm": {
                "exec_prefix": "",
                "environment": {"PATH": f"{bin_dir}:{os.environ['PATH']}"},
            },
        }
    )


def make_hub_db(url: str, states: dict[str, dict]) -> None:
    from jupyterhub import orm

    session = orm.new_session_factory(url)()
    for name, state in states.items():
        user = orm.User(name=name)
        session.add(user)
        session.commit()
        session.add(orm.Spawner(user=user, name="", state=state))
    session.commit()
    session.close()


def spawner_states(url: str) -> dict[str, dict]:
    from jupyterhub import orm

    session = orm.new_session_factory(url)()
    try:
        return {sp.user.name: dict(sp.state or {}) for sp in session.query(orm.Spawner)}
    finally:
        session.close()


def test_the_configured_database_and_job_name_are_used(site, tmp_path):
    url, job_name = hub_database_and_job_name(site)
    assert url == f"sqlite:///{tmp_path / 'elsewhere' / 'hub.sqlite'}"
    assert job_name == "site-jupyter"
    assert not (Path(site["state_dir"]) / "jupyterhub.sqlite").exists()


def test_reconcile_cancels_pending_spawns_and_failed_cancels(site, tmp_path):
    url, _ = hub_database_and_job_name(site)
    make_hub_db(
        url,
        {
            "running": {"job_id": "11", "started": True, "uncancelled": ["12"]},
            "queued": {"job_id": "14"},
            "stuck": {"job_id": "", "uncancelled": ["13"]},  # the controller refuses 13
        },
    )
    cancelled = cancel_orphaned_jobs(site)
    assert sorted(cancelled) == [("queued", "14"), ("running", "12")]
    calls = (tmp_path / "bin" / "scancel.calls").read_text().splitlines()
    assert sorted(calls) == sorted(f"--name=site-jupyter {j}" for j in ("12", "13", "14"))
    states = spawner_states(url)
    assert states["running"] == {"job_id": "11", "started": True}  # re-attached by poll
    assert states["queued"] == {}
    assert states["stuck"]["uncancelled"] == ["13"]  # tried again at the next start


def test_status_reads_the_configured_database_and_lists_failed_cancels(site):
    url, _ = hub_database_and_job_name(site)
    make_hub_db(url, {"alice": {"job_id": "11", "started": True, "uncancelled": ["9"]}})
    rows = {(r.user, r.job_id): r for r in collect(site)}
    assert rows[("alice", "11")].slurm_state == "RUNNING"
    assert rows[("alice", "11")].node == "node1"
    assert rows[("alice", "9")].hub_state == "uncancelled"
    assert rows[("alice", "9")].slurm_state == "GONE"


def test_status_without_a_database_says_so(site):
    with pytest.raises(FileNotFoundError, match="no hub database yet"):
        collect(site)


def test_a_postgresql_hub_is_reconciled_and_listed_not_skipped(site, postgres_server):
    """The issue's case: a hub on PostgreSQL (set in jupyterhub_config.d) was silently
    skipped. Real PostgreSQL (tests/support/postgres.py)."""
    database = postgres_server.create_database("rarehub_hub")
    url = postgres_server.url(database).replace("postgresql://", "postgresql+psycopg2://")
    config = Path(site["state_dir"]) / "jupyterhub_config.d" / "20-db.py"
    config.write_text(f"c.JupyterHub.db_url = {url!r}\n")
    assert hub_database_and_job_name(site) == (url, "rarehub-jupyter")
    make_hub_db(url, {"carol": {"job_id": "15"}, "dave": {"job_id": "11", "started": True}})
    assert cancel_orphaned_jobs(site) == [("carol", "15")]
    assert spawner_states(url)["carol"] == {}
    rows = {r.user: r for r in collect(site)}
    assert (rows["dave"].job_id, rows["dave"].slurm_state) == ("11", "RUNNING")
    assert rows["carol"].hub_state == "stopped"
