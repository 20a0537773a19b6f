"""Where a catalog lives: a SQLite file or a PostgreSQL server, and how to reach it safely.

- :func:`is_server_url` tells a server URL (``postgresql://reader@db.example.org/rarehub``)
  from a path.
- :func:`redact` hides a password in a URL before it reaches a message or a log.
- :func:`read_url_file` reads a URL from a file only its owner can read, so that a password,
  when a site keeps one in the URL, never appears in a command line (``/proc/PID/cmdline``
  is readable by every user) or in the environment of a job.
- :func:`upgrade_schema` brings a catalog to the newest schema with alembic, once, even when
  several processes open an old catalog at the same moment.

Passwords belong in libpq's password file (``~/.pgpass`` or ``PGPASSFILE``), in a URL file
(``RAREHUB_CATALOG_URL_FILE``) or in ``PGPASSWORD`` — never in an argument.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path

_SERVER_URL = re.compile(r"^postgres(?:ql)?(?:\+psycopg2)?://", re.IGNORECASE)
_PASSWORD_IN_URL = re.compile(r"^(?P<head>[a-z0-9+.-]+://[^:/@]*):(?P<pw>[^@/]*)@", re.IGNORECASE)
ENV_URL = "RAREHUB_CATALOG_URL"
ENV_URL_FILE = "RAREHUB_CATALOG_URL_FILE"
# One advisory-lock key for "upgrading the catalog schema" (ASCII of "rarehub!").
_UPGRADE_LOCK = 0x7261726568756221


def is_server_url(target: object) -> bool:
    """Whether ``target`` names a PostgreSQL server (``postgresql://…``) rather than a file."""
    return isinstance(target, str) and bool(_SERVER_URL.match(target))


def catalog_argument(text: str) -> str | Path:
    """An argparse ``type=`` for options naming a catalog: a server URL stays text (and is
    refused with a password in it: ``ps`` shows command lines to every user), else a path."""
    import argparse

    if is_server_url(text):
        if has_password(text):
            raise argparse.ArgumentTypeError(
                "a password in a command line is visible to every user; keep it in ~/.pgpass"
                " or PGPASSFILE and give the URL without it"
            )
        return text
    return Path(text)


def has_password(url: str) -> bool:
    """Whether a server URL carries a password (``postgresql://user:secret@host/db``)."""
    return bool(_PASSWORD_IN_URL.match(url))


def redact(text: str) -> str:
    """``text`` with the password of any URL in it replaced by ``***``."""
    return re.sub(
        r"([a-z0-9+.-]+://[^:/@\s]*):[^@/\s]*@", r"\1:***@", str(text), flags=re.IGNORECASE
    )


def sqlalchemy_url(url: str) -> str:
    """A ``postgresql://`` URL with the driver this package ships (psycopg2) named."""
    return _SERVER_URL.sub("postgresql+psycopg2://", url, count=1)


def read_url_file(path: str | os.PathLike) -> str:
    """The catalog URL kept in ``path`` (first non-empty line, ``#`` comments skipped).

    A file holding a password must not be readable by others: such a file is refused, by name.
    """
    from .store import CatalogError

    path = Path(path)
    try:
        text = path.read_text()
        mode = path.stat().st_mode
    except OSError as e:
        raise CatalogError(f"catalog URL file {path}: {e.strerror}") from None
    lines = [s.strip() for s in text.splitlines() if s.strip() and not s.strip().startswith("#")]
    if not lines:
        raise CatalogError(f"catalog URL file {path} is empty (expected one postgresql:// URL)")
    url = lines[0]
    if has_password(url) and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CatalogError(
            f"catalog URL file {path} holds a password and is readable by others"
            f" (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}"
        )
    return url


def upgrade_schema(conn, *, backend: str, create: bool, name: str) -> None:
    """Bring the catalog behind ``conn`` (an AUTOCOMMIT SQLAlchemy connection) to the head.

    A catalog made before migrations existed (a ``meta`` table, no ``alembic_version``) is
    stamped at revision 0001 and upgraded in place. The whole upgrade is one transaction,
    taken with ``BEGIN IMMEDIATE`` (SQLite) or under an advisory lock (PostgreSQL), and the
    revision is read again inside it, so concurrent openers upgrade once.
    """
    from .schema import SCHEMA_HEAD
    from .store import CatalogError

    if _revision(conn) == SCHEMA_HEAD:
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE" if backend == "sqlite" else "BEGIN")
    try:
        if backend == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_UPGRADE_LOCK})")
        revision = _revision(conn)
        if revision != SCHEMA_HEAD:
            if revision is None and not create:
                raise CatalogError(
                    f"{name} holds no catalog (create one with create=True, or"
                    " `rarehub catalog --db URL init`)"
                )
            _run_alembic(conn, revision, name)
        conn.exec_driver_sql("COMMIT")
    except BaseException:
        conn.exec_driver_sql("ROLLBACK")
        raise


def _revision(conn) -> str | None:
    """The alembic revision; ``"legacy"`` for a pre-migration catalog; ``None`` when empty."""
    from sqlalchemy import inspect

    names = set(inspect(conn).get_table_names())
    if "alembic_version" in names:
        row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None
    return "legacy" if "meta" in names else None


def _run_alembic(conn, revision: str | None, name: str) -> None:
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from .store import CatalogError

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    cfg.attributes["connection"] = conn
    known = {s.revision for s in ScriptDirectory.from_config(cfg).walk_revisions()}
    if revision not in (None, "legacy") and revision not in known:
        raise CatalogError(
            f"{name} has schema revision {revision!r}, newer than this rarehub knows"
            f" ({sorted(known)}); upgrade rarehub to use it"
        )
    log = logging.getLogger("alembic")
    level = log.level
    log.setLevel(logging.WARNING)  # "Running upgrade …" lines are not news for a notebook
    try:
        if revision == "legacy":
            command.stamp(cfg, "0001")
        command.upgrade(cfg, "head")
    finally:
        log.setLevel(level)
