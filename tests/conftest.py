"""Suite-wide rules: markers follow the folders, and under CI=true nothing skips.

A test that needs a real component (Slurm, podman, Chromium …) may skip on a laptop
without it, with a reason. Under ``CI=true`` every skip and every xfail (at collection,
in setup or in the test, marked or imperative) is turned into a failure, so a missing
component can never pass silently; a test whose skip or xfail is expected even in CI says
so with ``@pytest.mark.expected_in_ci(reason)``. The guard: ``tests/support/ci_guard.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ci_guard import (  # noqa: F401  (the CI guard's hooks, registered from here)
    pytest_configure,
    pytest_make_collect_report,
    pytest_runtest_makereport,
)

TESTS = Path(__file__).parent
FOLDER_MARKERS = {
    "unit": "unit",
    "integration": "integration",
    "images": "image",
    "browser": "browser",
    "notebooks": "notebook",
    "docs": "docs",
    "benchmarks": "benchmark",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        rel = Path(item.fspath).relative_to(TESTS)
        marker = FOLDER_MARKERS.get(rel.parts[0])
        if marker:
            item.add_marker(getattr(pytest.mark, marker))


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
