"""PostgreSQL roles for the catalog: read-only for analyzers' servers, writers for processing.

Run by the catalog's owner (the role that ran ``rarehub catalog init``), which alone may
change the schema. Readers get ``SELECT``; writers get ``SELECT, INSERT, UPDATE, DELETE`` and
the id sequences. Default privileges cover tables a later migration adds. The roles must
exist (``createuser --pwprompt NAME``): their passwords are set by the site's admin, never
passed through this tool.

A reader's sessions are also made read-only by default (``default_transaction_read_only``).
That setting belongs to the role, and PostgreSQL lets only a superuser (or a role with
``CREATEROLE``) change another role: an owner without those rights gets its grants done and
a line naming the one statement the server's admin runs — unless the admin already did.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .store import Catalog, CatalogError

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _ident(name: str) -> str:
    if not _ROLE.match(name):
        raise CatalogError(
            f"role name {name!r}: use lower-case letters, digits and _ (a PostgreSQL identifier)"
        )
    return f'"{name}"'


def grant_roles(cat: Catalog, *, readers: Sequence[str] = (), writers: Sequence[str] = ()):
    """Grant the catalog's privileges; return one line per role saying what it may do."""
    if cat.backend != "postgresql":
        raise CatalogError(f"roles: {cat.path} is a SQLite file; file permissions decide there")
    if not readers and not writers:
        raise CatalogError("roles: name at least one --reader or --writer")
    database = cat._scalar("SELECT current_database()")
    statements = []
    for name in [*readers, *writers]:
        if not cat._scalar("SELECT 1 FROM pg_roles WHERE rolname = :n", {"n": name}):
            raise CatalogError(
                f"roles: no role {name!r} in the server; create it first with"
                f" `createuser --pwprompt {name}` (as the server's admin)"
            )
    db = f'"{database}"'
    for name in readers:
        r = _ident(name)
        statements += [
            f"GRANT CONNECT ON DATABASE {db} TO {r}",
            f"GRANT USAGE ON SCHEMA public TO {r}",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {r}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {r}",
        ]
    for name in writers:
        w = _ident(name)
        statements += [
            f"GRANT CONNECT ON DATABASE {db} TO {w}",
            f"GRANT USAGE ON SCHEMA public TO {w}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {w}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {w}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public"
            f" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {w}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {w}",
        ]
    lines = []
    with cat.transaction():
        for statement in statements:
            cat._raw(statement)
        for name in readers:
            lines.append(f"{name}: read-only" + _read_only_sessions(cat, name, database))
    return lines + [f"{n}: read and write" for n in writers]


def _read_only_sessions(cat: Catalog, name: str, database: str) -> str:
    """Make ``name``'s sessions read-only by default (inside the caller's transaction);
    ``""`` when done or already so, else what the server's admin must run."""
    if _read_only_by_default(cat, name, database):
        return ""
    statement = f'ALTER ROLE {_ident(name)} IN DATABASE "{database}" SET'
    statement += " default_transaction_read_only = on"
    cat._raw("SAVEPOINT rarehub_reader_default")
    try:
        cat._raw(statement)
    except CatalogError as e:
        if "permission denied" not in str(e):
            raise
        cat._raw("ROLLBACK TO SAVEPOINT rarehub_reader_default")
        return (
            " (SELECT only; to make its sessions read-only too, the server's admin runs:"
            f" {statement})"
        )
    cat._raw("RELEASE SAVEPOINT rarehub_reader_default")
    return ""


def _read_only_by_default(cat: Catalog, name: str, database: str) -> bool:
    """Whether the server already starts ``name``'s sessions in ``database`` read-only (a
    setting for the role in this database wins over one for the role everywhere)."""
    rows: Any = cat._q(
        "SELECT s.setdatabase <> 0, s.setconfig FROM pg_db_role_setting s"
        " JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = :n AND (s.setdatabase = 0"
        " OR s.setdatabase = (SELECT oid FROM pg_database WHERE datname = :db))",
        {"n": name, "db": database},
    )
    value = None
    for _here, config in sorted(rows):  # the role's own setting first, this database's last
        for item in config or ():
            key, _, v = item.partition("=")
            if key == "default_transaction_read_only":
                value = v.lower()
    return value in ("on", "true", "yes", "1")
