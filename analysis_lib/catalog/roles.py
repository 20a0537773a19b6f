"""PostgreSQL roles for the catalog: read-only for analyzers' servers, writers for processing.

Run by the catalog's owner (the role that ran ``rarehub catalog init``), which alone may
change the schema. Readers get ``SELECT`` and ``default_transaction_read_only``; writers get
``SELECT, INSERT, UPDATE, DELETE`` and the id sequences. Default privileges cover tables a
later migration adds. The roles must exist (``createuser --pwprompt NAME``): their passwords
are set by the site's admin, never passed through this tool.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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
            f"ALTER ROLE {r} IN DATABASE {db} SET default_transaction_read_only = on",
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
    with cat.transaction():
        for statement in statements:
            cat._raw(statement)
    return [f"{n}: read-only" for n in readers] + [f"{n}: read and write" for n in writers]
