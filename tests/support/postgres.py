"""A throw-away PostgreSQL server for tests (Debian's postgresql, started as user postgres).

``start_postgres()`` runs ``initdb`` into a temporary folder owned by ``postgres`` and starts
the server with ``pg_ctl`` on 127.0.0.1 and a free port, its unix socket in the same folder,
``fsync=off`` (a test server). The superuser ``postgres`` gets a random password kept in a
mode-600 password file (``PgServer.pgpass``): point ``PGPASSFILE`` at it and connect with a
URL that carries no password, as sites do. Used by the hub-database deploy tests and the
catalog tests (one server per test session there).

``start_postgres(netns=…, listen=…, client_networks=…)`` starts it on a host of the
three-host test cluster instead (tests/support/multihost.py): inside that host's network
namespace, listening on its cluster address only, with password (SCRAM) logins accepted
from the given networks. Its unix socket is a file path, so ``psql()`` from the machine
still reaches it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
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
    pgpass: Path  # mode 600, holds the superuser's password for host:port
    host: str = "127.0.0.1"  # the address it listens on

    def url(self, database: str = "postgres", user: str = "postgres") -> str:
        """A URL without password (libpq finds it in ``pgpass`` via PGPASSFILE)."""
        return f"postgresql://{user}@{self.host}:{self.port}/{database}"

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

    def add_password(
        self, user: str, password: str, *, host: str | None = None, port: int | None = None
    ) -> None:
        """Let ``user`` log in over TCP with ``password``, kept in the password file (for
        the server's own address, or ``host:port`` — e.g. a relay's loopback port)."""
        with self.pgpass.open("a") as f:
            f.write(f"{host or self.host}:{port or self.port}:*:{user}:{password}\n")

    def create_login_role(self, name: str, password: str) -> None:
        """A role that logs in with ``password``; the SQL goes to psql on its standard
        input, so the password is in no command line (``/proc/PID/cmdline``)."""
        sql = f"CREATE ROLE {name} LOGIN PASSWORD '{password}';\n"
        as_postgres(
            str(self.bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
            "-h", str(self.socket_dir), "-p", str(self.port), "-d", "postgres", "-f", "-",
            input=sql,
        )  # fmt: skip


@contextlib.contextmanager
def start_postgres(
    *,
    netns: str | None = None,
    listen: str = "127.0.0.1",
    client_networks: Sequence[str] = (),
    settings: Mapping[str, str] | None = None,
) -> Iterator[PgServer]:
    """Start a server (see the module docstring); stop it and remove its folder afterwards.

    ``netns`` (``/run/netns/NAME``): start it inside that network namespace, listening on
    ``listen`` (an address of that namespace). ``client_networks``: CIDR networks whose
    clients may log in with a password (127.0.0.1 always may). ``settings``: further
    server settings (``{"log_connections": "on"}``)."""
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
        if client_networks:
            with (data / "pg_hba.conf").open("a") as f:
                f.writelines(f"host all all {net} scram-sha-256\n" for net in client_networks)
        options = f"-p {port} -k {sock} -c listen_addresses={listen} -c fsync=off"
        options += "".join(f" -c {k}={v}" for k, v in (settings or {}).items())
        start = [str(pg / "pg_ctl"), "-D", str(data), "-l", str(base / "postgres.log"),
                 "-w", "-t", "60", "-o", options, "start"]  # fmt: skip
        if netns is None:
            as_postgres(*start)
        else:  # runuser inside the namespace: the server and its children stay there
            subprocess.run(
                ["nsenter", f"--net={netns}", "runuser", "-u", "postgres", "--", *start],
                check=True, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
        pgpass = base / "pgpass"
        pgpass.write_text(f"{listen}:{port}:*:postgres:{password}\n")
        pgpass.chmod(0o600)
        yield PgServer(port=port, socket_dir=sock, bin=pg, base=base, pgpass=pgpass, host=listen)
    finally:
        stop = [str(pg / "pg_ctl"), "-D", str(data), "-w", "-m", "fast", "stop"]
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *stop],
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(base, ignore_errors=True)
