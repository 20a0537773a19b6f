"""Catalog roles granted by an owner that is not a superuser, as docs/howto/catalog-server.md
sets the server up (``createuser --pwprompt catalog_owner``; the database owned by it).
Real PostgreSQL (tests/conftest.py ``postgres_server``).
"""

from __future__ import annotations

import secrets

import pytest

from analysis_lib.catalog import Catalog, CatalogError
from analysis_lib.catalog.roles import grant_roles


@pytest.fixture
def site(postgres_server):
    """A database owned by a plain login role, and a reader and a writer role."""
    pg, token = postgres_server, secrets.token_hex(4)
    roles = {k: f"cat_{k}_{token}" for k in ("owner", "reader", "writer")}
    for name in roles.values():
        password = secrets.token_hex(16)
        pg.create_login_role(name, password)
        pg.add_password(name, password)
    db = pg.create_database("roles")
    pg.psql(f"ALTER DATABASE {db} OWNER TO {roles['owner']}")
    with Catalog.open(pg.url(db, roles["owner"])) as cat:
        cat.add_dataset("d")
        cat.add_run("d", 1, run_type="physics")
    return pg, db, roles


def session_read_only(pg, db, role) -> str:
    with Catalog.open(pg.url(db, role)) as cat:  # not asked read-only: the role's default
        return cat._scalar("SHOW default_transaction_read_only")


def test_an_owner_without_admin_rights_grants_and_names_what_the_admin_runs(site):
    pg, db, roles = site
    with Catalog.open(pg.url(db, roles["owner"])) as cat:
        lines = grant_roles(cat, readers=[roles["reader"]], writers=[roles["writer"]])
    statement = (
        f'ALTER ROLE "{roles["reader"]}" IN DATABASE "{db}" SET default_transaction_read_only = on'
    )
    assert lines == [
        f"{roles['reader']}: read-only (SELECT only; to make its sessions read-only too,"
        f" the server's admin runs: {statement})",
        f"{roles['writer']}: read and write",
    ]
    with Catalog.open(pg.url(db, roles["writer"])) as writer:  # the grants were kept
        writer.add_run("d", 2, run_type="noise")
    with Catalog.open(pg.url(db, roles["reader"])) as reader:
        assert reader.runs()["run_number"].tolist() == [1, 2]
        with pytest.raises(CatalogError, match="refuses this write"):
            reader.set_quality("d", 1, "bad")
    assert session_read_only(pg, db, roles["reader"]) == "off"

    pg.psql(statement)  # the admin does as told; granting again then says nothing more
    with Catalog.open(pg.url(db, roles["owner"])) as cat:
        assert grant_roles(cat, readers=[roles["reader"]]) == [f"{roles['reader']}: read-only"]
    assert session_read_only(pg, db, roles["reader"]) == "on"


def test_a_superuser_owner_makes_reader_sessions_read_only_itself(site):
    pg, db, roles = site
    with Catalog.open(pg.url(db)) as cat:  # postgres, the server's superuser
        assert grant_roles(cat, readers=[roles["reader"]]) == [f"{roles['reader']}: read-only"]
    assert session_read_only(pg, db, roles["reader"]) == "on"
    reader = Catalog.open(pg.url(db, roles["reader"]))
    with reader, pytest.raises(CatalogError, match="refuses this write"):
        reader.add_run("d", 3, run_type="physics")
