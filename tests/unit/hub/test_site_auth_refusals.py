"""The config check refuses authentication that lets one user act as another (issue #14)."""

from __future__ import annotations

import re

import pytest
from traitlets.config import Config

from rarehub_hub.site import SiteError, configure, validate_site

pytestmark = pytest.mark.security
GOOD = "Zq8-vR3k-Lm2w"


def site(deployment="local", ip="127.0.0.1", **auth):
    return {"deployment": deployment, "state_dir": "/srv/x", "hub": {"ip": ip}, "auth": auth}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            site("slurm", type="shared-password", shared_password=GOOD),
            r"shared-password cannot be used with deployment slurm.*pam or ldap.*OAuth",
        ),
        (
            site(ip="0.0.0.0", shared_password=GOOD),
            r"hub.ip 0.0.0.0: a shared password is for a loopback demo.*"
            r"shared_password_on_network: true",
        ),
        (site(ip="10.1.2.3", shared_password=GOOD), r"hub.ip 10.1.2.3"),
        (site(shared_password="CHANGE-ME-before-first-start"), r"contains 'change'"),
        (site(shared_password="my-Password-2024"), r"contains 'password'"),
        (site(shared_password="aaaabbbbaaaa"), r"fewer than 6 different characters"),
        (site("slurm", type="pam"), r"say who may log in: auth.allowed_users"),
        (site(type="ldap", allow_all=True), r"auth.type ldap needs auth.ldap"),
        (
            site(
                type="ldap",
                allow_all=True,
                ldap={
                    "server_address": "ldap.example.org",
                    "tls_strategy": "insecure",
                    "bind_dn_template": ["uid={username},dc=x"],
                },
            ),
            r"insecure sends passwords in clear",
        ),
        (
            site(
                type="ldap",
                allow_all=True,
                ldap={"server_address": "127.0.0.1", "bind_dn_template": ["uid=x,dc=x"]},
            ),
            r"does not match",
        ),
        (site(type="pam", allow_all=True, shared_password=GOOD), r"only for auth.type shared"),
    ],
)
def test_unsafe_authentication_is_refused_with_what_to_use(data, message):
    with pytest.raises(SiteError, match=message):
        validate_site(data)


def test_what_is_allowed_maps_onto_the_authenticators():
    c = Config()
    configure(c, validate_site(site("slurm", type="pam", allowed_groups=["hpc"])))
    assert c.JupyterHub.authenticator_class == "pam"
    assert c.Authenticator.allow_all is False
    assert c.PAMAuthenticator.allowed_groups == ["hpc"]
    assert c.Authenticator.blocked_users == {"root"}
    ldap = {"server_address": "127.0.0.1", "tls_strategy": "insecure"}
    ldap["bind_dn_template"] = ["uid={username},ou=people,dc=rarehub"]
    c = Config()
    configure(c, validate_site(site("slurm", type="ldap", allowed_users=["a"], ldap=ldap)))
    assert c.JupyterHub.authenticator_class == "ldap"
    assert c.LDAPAuthenticator.server_address == "127.0.0.1"
    assert c.LDAPAuthenticator.bind_dn_template == ["uid={username},ou=people,dc=rarehub"]
    assert c.Authenticator.allowed_users == {"a"}
    # The loopback demo keeps its shared password, and an admin may say yes to the network.
    c = Config()
    configure(c, validate_site(site(shared_password=GOOD)))
    pattern = re.compile(c.Authenticator.username_pattern)
    assert pattern.match("alice-2")
    for name in ("..", "../etc", "a/b", ".hidden", "x.y"):
        assert not pattern.match(name), name  # each is a folder under state_dir/home
    validate_site(site(ip="0.0.0.0", shared_password=GOOD, shared_password_on_network=True))


def test_local_servers_of_unix_accounts_run_as_the_user_never_root(tmp_path):
    c = Config()
    data = site(type="pam", allowed_users=["alice"])
    data["state_dir"] = str(tmp_path)
    configure(c, validate_site(data))
    assert c.JupyterHub.spawner_class == "localprocess"
    assert "--allow-root" not in c.Spawner.args
    assert c.Spawner.cmd[1:4] == ["-m", "rarehub_hub.singleuser", "--local"]
    assert c.Authenticator.blocked_users == {"root"}
    assert "pre_spawn_hook" not in c.Spawner  # the hub (root) writes nothing into homes
