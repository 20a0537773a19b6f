"""A throw-away PostgreSQL server for tests (Debian's postgresql, started as user postgres).

``start_postgres()`` runs ``initdb`` into a temporary folder owned by ``postgres`` and starts
the server with ``pg_ctl`` on 127.0.0.1 and a free port, its unix socket in the same folder,
``fsync=off`` (a test server). The superuser ``postgres`` gets a random password kept in a
mode-600 password file (``PgServer.pgpass``): point ``PGPASSFILE`` at it and connect with a
URL that carries no password, as sites do. Used by the hub-database deploy tests and the
catalog tests (one server per test session there).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rarehub_testing import free_port_block


def missing_requirements() -> str | None:
    """Why no server can be started here (None when it can)."""
    if os.geteuid() != 0:
        return "needs root: PostgreSQL runs as user postgres, started with runuser"
    if shutil.which("runuser") is None:
        return "runuser not found (Debian util-linux): starts PostgreSQL as user postgres"
    if not sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        return "PostgreSQL server not installed (Debian package postgresql)"
    return None


def postgres_bin() -> Path:
    return sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))[-1].parent


def as_postgres(*cmd: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *cmd],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


@dataclass
class PgServer:
    port: int
    socket_dir: Path
    bin: Path
    base: Path
    pgpass: Path  # mode 600, holds the superuser's password for 127.0.0.1:port

    def url(self, database: str = "postgres", user: str = "postgres") -> str:
        """A URL without password (libpq finds it in ``pgpass`` via PGPASSFILE)."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL as the superuser over the unix socket (peer authentication)."""
        return as_postgres(
            str(self.bin / "psql"),
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(self.socket_dir),
            "-p",
            str(self.port),
            "-d",
            database,
            "-tAc",
            sql,
        ).stdout.strip()

    def create_database(self, prefix: str = "db") -> str:
        """A new, empty database (template0, C collation) owned by postgres; its name."""
        name = f"{prefix}_{secrets.token_hex(4)}"
        self.psql(f"CREATE DATABASE {name} TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'")
        return name

    def add_password(self, user: str, password: str) -> None:
        """Let ``user`` log in over TCP with ``password``, kept in the password file."""
        with self.pgpass.open("a") as f:
            f.write(f"127.0.0.1:{self.port}:*:{user}:{password}\n")


@contextlib.contextmanager
def start_postgres() -> Iterator[PgServer]:
    """Start a server (see the module docstring); stop it and remove its folder afterwards."""
    pg = postgres_bin()
    base = Path(tempfile.mkdtemp(prefix="rarehub-pg-", dir="/tmp"))
    base.chmod(0o755)
    shutil.chown(base, "postgres", "postgres")
    data, sock = base / "data", base / "sock"
    as_postgres("mkdir", "-m", "700", str(data), str(sock))
    password = secrets.token_hex(16)
    pwfile = base / "pwfile"
    pwfile.write_text(password + "\n")
    shutil.chown(pwfile, "postgres", "postgres")
    pwfile.chmod(0o600)
    port = free_port_block(1)
    try:
        as_postgres(
            str(pg / "initdb"),
            *("-D", str(data), "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"),
            *("--auth-local=peer", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"),
        )
        pwfile.unlink()
        options = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
        as_postgres(
            str(pg / "pg_ctl"),
            *("-D", str(data), "-l", str(base / "postgres.log"), "-w", "-t", "60"),
            *("-o", options, "start"),
        )
        pgpass = base / "pgpass"
        pgpass.write_text(f"127.0.0.1:{port}:*:postgres:{password}\n")
        pgpass.chmod(0o600)
        yield PgServer(port=port, socket_dir=sock, bin=pg, base=base, pgpass=pgpass)
    finally:
        stop = [str(pg / "pg_ctl"), "-D", str(data), "-w", "-m", "fast", "stop"]
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *stop],
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(base, ignore_errors=True)
