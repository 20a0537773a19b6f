"""A real OpenLDAP ``slapd`` (Debian package ``slapd``) for tests, on 127.0.0.1.

::

    with running_slapd(tmp_path, {"alice": "pw-a", "bob": "pw-b"}) as ldap:
        ldap.url, ldap.bind_dn_template   # ldap://127.0.0.1:PORT, uid={username},ou=people,…

Its own config file (``slapd -f``), its own MDB database in ``root``, loaded with ``slapadd``
before the start; users are ``inetOrgPerson``+``posixAccount`` entries under ``ou=people``
with ``{SSHA}`` passwords from ``slappasswd``. Stopped (SIGTERM, then SIGKILL) at the end.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from rarehub_testing import free_port_block, wait_for

SUFFIX = "dc=rarehub,dc=test"
SCHEMAS = ("core", "cosine", "nis", "inetorgperson")


@dataclass(frozen=True)
class Slapd:
    host: str
    port: int
    suffix: str = SUFFIX

    @property
    def url(self) -> str:
        return f"ldap://{self.host}:{self.port}"

    @property
    def bind_dn_template(self) -> str:
        return f"uid={{username}},ou=people,{self.suffix}"


def _ldif(users: Mapping[str, str]) -> str:
    blocks = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: rarehub\n"
        "dc: rarehub\n",
        f"dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n",
    ]
    for name, password in users.items():
        hashed = subprocess.run(
            ["slappasswd", "-s", password], capture_output=True, text=True, check=True
        ).stdout.strip()
        pw = pwd.getpwnam(name)  # the unix account of the same name (jobs run as it)
        blocks.append(
            f"dn: uid={name},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\n"
            f"objectClass: posixAccount\nuid: {name}\ncn: {name}\nsn: {name}\n"
            f"uidNumber: {pw.pw_uid}\ngidNumber: {pw.pw_gid}\nhomeDirectory: {pw.pw_dir}\n"
            f"userPassword: {hashed}\n"
        )
    return "\n".join(blocks)


@contextlib.contextmanager
def running_slapd(root: Path, users: Mapping[str, str]) -> Iterator[Slapd]:
    """Start slapd on 127.0.0.1 with ``users`` (name → password); yield a :class:`Slapd`."""
    slapd = shutil.which("slapd") or "/usr/sbin/slapd"
    if not Path(slapd).exists() or not shutil.which("slapadd", path="/usr/sbin:/usr/bin"):
        pytest.skip("slapd not installed (Debian packages slapd ldap-utils)")
    root.mkdir(parents=True, exist_ok=True)
    (root / "db").mkdir(exist_ok=True)
    conf = root / "slapd.conf"
    port = free_port_block(1)
    conf.write_text(
        "".join(f"include /etc/ldap/schema/{s}.schema\n" for s in SCHEMAS)
        + f"pidfile {root}/slapd.pid\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\n"
        f'database mdb\nsuffix "{SUFFIX}"\nrootdn "cn=admin,{SUFFIX}"\n'
        f"rootpw {secrets.token_hex(16)}\ndirectory {root}/db\nmaxsize 10485760\n"
        # Users may bind as themselves; nobody reads passwords.
        "access to attrs=userPassword by anonymous auth by * none\n"
        "access to * by * read\n"
    )
    ldif = root / "users.ldif"
    ldif.write_text(_ldif(users))
    subprocess.run(
        ["/usr/sbin/slapadd", "-f", str(conf), "-l", str(ldif)],
        capture_output=True,
        text=True,
        check=True,
    )
    log = (root / "slapd.log").open("wb")
    proc = subprocess.Popen(
        [slapd, "-d", "0", "-f", str(conf), "-h", f"ldap://127.0.0.1:{port}/"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Slapd("127.0.0.1", port)
    try:

        def up():
            if proc.poll() is not None:
                return "exited"
            r = subprocess.run(
                ["ldapwhoami", "-x", "-H", server.url], capture_output=True, timeout=5
            )
            return r.returncode == 0

        state = wait_for(up, timeout=30, what="slapd")
        assert state is True, (root / "slapd.log").read_text()[-2000:]
        yield server
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
