"""Suite-wide rules: markers follow the folders, and under CI=true nothing skips.

A test that needs a real component (Slurm, podman, Chromium …) may skip on a laptop
without it, with a reason. Under ``CI=true`` such a skip is turned into a failure, so a
missing component can never pass silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
FOLDER_MARKERS = {
    "unit": "unit",
    "integration": "integration",
    "images": "image",
    "browser": "browser",
    "notebooks": "notebook",
    "docs": "docs",
}
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        rel = Path(item.fspath).relative_to(TESTS)
        marker = FOLDER_MARKERS.get(rel.parts[0])
        if marker:
            item.add_marker(getattr(pytest.mark, marker))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which counts as a failure: {reason}"


@pytest.fixture(scope="session")
def slurm_cluster():
    """One real one-node Slurm cluster on loopback for the whole run (tests/support/slurm.py).

    Yields a ``slurm.SlurmCluster``: ``.partition``, ``.env`` (with ``SLURM_CONF``; pass it to
    every Slurm command), ``.sbatch()``, ``.squeue()``, ``.scancel()``, ``.wait_state()`` and a
    world-writable ``.work_dir`` for jobs run as other users. Skips (a failure under CI=true)
    without root or the Slurm packages.
    """
    import slurm

    why = slurm.missing_requirements()
    if why:
        pytest.skip(f"no Slurm cluster: {why}")
    with slurm.start_slurm_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL server on 127.0.0.1 for the whole run (tests/support/postgres.py).

    Yields a ``postgres.PgServer``: ``.url(db, user)`` (no password in it), ``.psql(sql)``,
    ``.create_database()``, ``.add_password(user, pw)``. ``PGPASSFILE`` points at its
    password file while the session runs, so clients (and their subprocesses) log in the way
    sites do. Skips (a failure under CI=true) without root or the Debian package.
    """
    import postgres

    why = postgres.missing_requirements()
    if why:
        pytest.skip(f"no PostgreSQL server: {why}")
    with postgres.start_postgres() as server, pytest.MonkeyPatch.context() as mp:
        mp.setenv("PGPASSFILE", str(server.pgpass))
        yield server
