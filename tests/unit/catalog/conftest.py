"""The catalog tests run against both backends: a SQLite file and a real PostgreSQL server.

``catalog_target`` is where a fresh, empty catalog goes: a path in the test's folder, or a
new database on the session's PostgreSQL (tests/conftest.py ``postgres_server``), given as a
URL without password (libpq reads it from ``PGPASSFILE``).
"""

from __future__ import annotations

import pytest

from analysis_lib.catalog import Catalog


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_target(request, tmp_path):
    if request.param == "sqlite":
        return tmp_path / "catalog.sqlite"
    server = request.getfixturevalue("postgres_server")
    return server.url(server.create_database("catalog"))


@pytest.fixture
def cat(catalog_target):
    with Catalog.open(catalog_target) as c:
        yield c
