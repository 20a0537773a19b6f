"""The site YAML: one file an admin writes, validated by a schema, mapped onto traitlets here.

Learned from TLJH: the schema refuses unknown keys (``additionalProperties: false``) so a typo
is an error, defaults live in the schema, and :func:`configure` only *sets* config values
("config should never append or mutate, only set"). Anything the YAML cannot express goes
into ``<state_dir>/jupyterhub_config.d/*.py``, loaded last.

Example (slurm)::

    deployment: slurm
    state_dir: /var/lib/rarehub
    hub: {ip: 127.0.0.1, port: 8000}
    auth: {type: pam, admin_users: [alice]}
    slurm:
      runtime: apptainer
      image: /cvmfs/rarehub/rarehub-{version}.sif
      binds: [{source: /data, readonly: true}]
      limits: {partitions: [jupyter], cpus: [1, 8], memory_GiB: [2, 64], images: ["1.0"]}
      profiles:
        - {name: small, display_name: "2 CPUs, 4 GiB, 4 h", cpus: 2, memory_GiB: 4,
           walltime_minutes: 240}
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .local import LocalSite, configure_local

_RANGE = {
    "type": "array",
    "items": {"type": "integer", "minimum": 0},
    "minItems": 2,
    "maxItems": 2,
}
_NAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "RareHub site configuration",
    "type": "object",
    "additionalProperties": False,
    "required": ["deployment", "state_dir"],
    "properties": {
        "deployment": {"enum": ["local", "slurm"], "description": "where servers run"},
        "state_dir": {"type": "string", "description": "hub database, secrets, demo data"},
        "env_prefix": {
            "type": "string",
            "description": "Python environment the servers run (local; slurm runtime none)",
        },
        "idle_timeout_s": {"type": "integer", "minimum": 60, "default": 3600},
        "monitors": {
            "type": "object",
            "additionalProperties": False,
            "default": {},
            "description": "storage and data-quality monitors as hub services "
            "(/services/storage-monitor/, /services/dq-monitor/ on ports port+3, port+4)",
            "properties": {
                "catalog": {
                    "type": "string",
                    "description": "catalog they show: a SQLite file or a "
                    "postgresql://USER@HOST[:PORT]/DB URL without password (use a read-only "
                    "role; the password goes in catalog_pgpass); absent: no monitors",
                },
                "catalog_pgpass": {
                    "type": "string",
                    "description": "libpq password file (mode 600, owned by the hub's user) "
                    "the monitors log in to a catalog server with (their PGPASSFILE)",
                },
                "results": {
                    "type": "string",
                    "description": "root folder of stored processing results (rarehub "
                    "process --storage): the storage monitor also shows and exports the "
                    "lifecycle plan (what lineage can rebuild)",
                },
                "websocket_origins": {
                    "type": "array",
                    "items": {"type": "string", "pattern": "^[^/\\s]+$"},
                    "description": "HOST[:PORT] users' browsers reach the hub at, e.g. "
                    "hub.example.org (default: hub.ip:hub.port)",
                },
            },
        },
        "hub": {
            "type": "object",
            "additionalProperties": False,
            "default": {},
            "properties": {
                "ip": {"type": "string", "default": "127.0.0.1"},
                "port": {"type": "integer", "minimum": 1, "maximum": 65531, "default": 8000},
                "proxy_command": {"type": "string", "default": "configurable-http-proxy"},
                "api_ip": {
                    "type": "string",
                    "default": "127.0.0.1",
                    "description": "address the hub API binds (port+1); servers on other "
                    "nodes must reach it: the hub node's cluster-network address",
                },
                "api_connect_host": {
                    "type": "string",
                    "description": "name/address servers use to reach the hub API "
                    "(default: api_ip)",
                },
            },
        },
        "auth": {
            "type": "object",
            "additionalProperties": False,
            "default": {},
            "properties": {
                "type": {
                    "enum": ["shared-password", "pam", "ldap"],
                    "default": "shared-password",
                    "description": "pam or ldap: logins are unix accounts (required with "
                    "deployment slurm); shared-password: one password, loopback demo only",
                },
                "shared_password": {
                    "type": "string",
                    "minLength": 8,
                    "description": "absent: a random one, kept in <state_dir>/demo-password",
                },
                "shared_password_on_network": {
                    "type": "boolean",
                    "default": False,
                    "description": "the admin's explicit yes to a shared password on a "
                    "non-loopback hub.ip (anyone who learns it can log in as anyone)",
                },
                "admin_users": {"type": "array", "items": {"type": "string"}, "default": []},
                "allowed_users": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "who may log in (pam, ldap: this, allowed_groups or "
                    "allow_all is required)",
                },
                "allowed_groups": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "pam: unix groups; ldap: group DNs whose members may log in",
                },
                "allow_all": {
                    "type": "boolean",
                    "default": False,
                    "description": "pam, ldap: every account that authenticates may log in",
                },
                "ldap": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["server_address", "bind_dn_template"],
                    "description": "auth.type ldap (jupyterhub-ldapauthenticator); the unix "
                    "accounts of the same names must exist on the hub and the nodes",
                    "properties": {
                        "server_address": {"type": "string", "minLength": 1},
                        "server_port": {"type": "integer", "minimum": 1, "maximum": 65535},
                        "tls_strategy": {
                            "enum": ["before_bind", "on_connect", "insecure"],
                            "default": "before_bind",
                            "description": "insecure (passwords in clear) only with a server "
                            "on loopback",
                        },
                        "bind_dn_template": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"type": "string", "pattern": "\\{username\\}"},
                            "description": "e.g. uid={username},ou=people,dc=example,dc=org",
                        },
                    },
                },
            },
        },
        "slurm": {
            "type": "object",
            "additionalProperties": False,
            "default": {},
            "properties": {
                "runtime": {"enum": ["none", "apptainer", "podman"], "default": "none"},
                "image": {"type": "string", "description": "sif path / image ref with {version}"},
                "binds": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["source"],
                        "properties": {
                            "source": {"type": "string"},
                            "target": {"type": "string"},
                            "readonly": {"type": "boolean"},
                        },
                    },
                    "default": [],
                },
                "server_ip": {
                    "type": "string",
                    "default": "auto",
                    "description": "address the server binds on its node: 'auto' (the node's "
                    "address on the network that reaches the hub API), '0.0.0.0' (all; the "
                    "hub routes to the node's name) or an IP address",
                },
                "port_range": {**_RANGE, "default": [0, 0]},
                "squeue_interval_s": {"type": "number", "exclusiveMinimum": 0, "default": 10},
                "exec_prefix": {"type": "string", "default": "sudo -E -u {username}"},
                "environment": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "for the hub's Slurm commands, e.g. SLURM_CONF",
                    "default": {},
                },
                "job_environment": {
                    "type": "object",
                    "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                    "additionalProperties": {"type": "string"},
                    "default": {},
                },
                "start_timeout_s": {"type": "integer", "minimum": 10, "default": 300},
                "stop_timeout_s": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": 600,
                    "default": 30,
                    "description": "seconds a stop may take: scancel (retried) and waiting "
                    "for Slurm to end the job; a job not cancelled is kept and reported",
                },
                "walltime_warnings_minutes": {
                    "type": "array",
                    "items": {"type": "number", "exclusiveMinimum": 0, "maximum": 10080},
                    "uniqueItems": True,
                    "maxItems": 5,
                    "default": [10, 2],
                    "description": "minutes before a server's Slurm job reaches its walltime "
                    "at which JupyterLab warns the user, each once ([]: never)",
                },
                "poll_interval_s": {
                    "type": "integer",
                    "minimum": 1,
                    "default": 30,
                    "description": "how often the hub checks each running server's job",
                },
                "limits": {
                    "type": "object",
                    "additionalProperties": False,
                    "default": {},
                    "properties": {
                        "partitions": {"type": "array", "items": _NAME, "minItems": 1},
                        "cpus": _RANGE,
                        "memory_GiB": _RANGE,
                        "walltime_minutes": _RANGE,
                        "gpus_max": {"type": "integer", "minimum": 0},
                        "images": {"type": "array", "items": _NAME, "minItems": 1},
                        "accounts": {
                            "type": "array",
                            "items": _NAME,
                            "description": "Slurm accounts users may charge (sbatch "
                            "--account); narrowed to the user's associations where sacctmgr "
                            "answers; absent: Slurm's default account",
                        },
                        "qos": {
                            "type": "array",
                            "items": _NAME,
                            "description": "QoS users may ask for (sbatch --qos); narrowed "
                            "to the user's associations where sacctmgr answers",
                        },
                        "reservations": {
                            "type": "array",
                            "items": _NAME,
                            "description": "reservations users may name (sbatch "
                            "--reservation); only those that exist are offered",
                        },
                    },
                },
                "profiles": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name", "display_name"],
                        "properties": {
                            "name": _NAME,
                            "display_name": {"type": "string"},
                            "cpus": {"type": "integer", "minimum": 1},
                            "memory_GiB": {"type": "integer", "minimum": 1},
                            "walltime_minutes": {"type": "integer", "minimum": 1},
                            "gpus": {"type": "integer", "minimum": 0},
                            "partition": _NAME,
                            "image": _NAME,
                            "groups": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                    "default": [],
                },
            },
        },
    },
}


class SiteError(ValueError):
    """The site configuration is not valid; the message names the file and the field."""


LOOPBACK = ("127.", "::1", "localhost")
#: Words that make a password a placeholder or a constant someone ships (compared on the
#: lower-cased letters and digits only).
PLACEHOLDER_WORDS = (
    "change",
    "placeholder",
    "password",
    "passwort",
    "example",
    "default",
    "secret",
    "replace",
    "letmein",
    "qwerty",
    "1234567",
)


def is_loopback(host: str) -> bool:
    return host.startswith(LOOPBACK) or host == "[::1]"


def weak_password(password: str) -> str:
    """Why ``password`` is a placeholder or a constant (``""`` if it is not)."""
    squashed = "".join(ch for ch in password.lower() if ch.isalnum())
    for word in PLACEHOLDER_WORDS:
        if word in squashed:
            return f"it contains {word!r}: a placeholder or a well-known password"
    if len(set(password)) < 6:
        return "fewer than 6 different characters"
    return ""


def check_auth(site: Mapping[str, Any], source: str) -> None:
    """Refuse authentication that does not match who may act as whom (issue #14)."""
    auth, hub = site["auth"], site["hub"]
    kind = auth["type"]
    if kind == "shared-password":
        if site["deployment"] == "slurm":
            raise SiteError(
                f"{source}: auth.type shared-password cannot be used with deployment slurm: "
                "anyone with the one password could start jobs as any allowed unix user. Use "
                "auth.type pam or ldap (logins are unix accounts), or an OAuth authenticator "
                "with a username map to unix accounts in jupyterhub_config.d/."
            )
        if not is_loopback(hub["ip"]) and not auth["shared_password_on_network"]:
            raise SiteError(
                f"{source}: auth.type shared-password with hub.ip {hub['ip']}: a shared "
                "password is for a loopback demo. Use auth.type pam or ldap, or set "
                "auth.shared_password_on_network: true if everyone who can reach this "
                "address may log in as anyone."
            )
        why = weak_password(auth["shared_password"]) if auth.get("shared_password") else ""
        if why:
            raise SiteError(
                f"{source}: auth.shared_password refused: {why}. Leave it out (a random one "
                "is made and kept in <state_dir>/demo-password) or use one from "
                "`openssl rand -base64 18`."
            )
        return
    if auth.get("shared_password"):
        raise SiteError(f"{source}: auth.shared_password is only for auth.type shared-password")
    if not (auth.get("allowed_users") or auth.get("allowed_groups") or auth["allow_all"]):
        raise SiteError(
            f"{source}: auth.type {kind}: say who may log in: auth.allowed_users, "
            "auth.allowed_groups, or auth.allow_all: true (every account that authenticates)"
        )
    if kind == "ldap":
        ldap = auth.get("ldap")
        if not ldap:
            raise SiteError(f"{source}: auth.type ldap needs auth.ldap (server_address, …)")
        if ldap["tls_strategy"] == "insecure" and not is_loopback(ldap["server_address"]):
            raise SiteError(
                f"{source}: auth.ldap.tls_strategy insecure sends passwords in clear: only "
                f"with a server on loopback, not {ldap['server_address']}"
            )
    elif auth.get("ldap"):
        raise SiteError(f"{source}: auth.ldap is only for auth.type ldap")


def _fill_defaults(schema: Mapping[str, Any], value: dict) -> None:
    for key, sub in schema.get("properties", {}).items():
        if key not in value and "default" in sub:
            value[key] = copy.deepcopy(sub["default"])
        if isinstance(value.get(key), dict) and sub.get("type") == "object":
            _fill_defaults(sub, value[key])


def validate_site(data: object, source: str = "<site>") -> dict[str, Any]:
    """Validate ``data`` against :data:`SCHEMA`; return it with the defaults filled in."""
    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = []
        for e in errors:
            where = ".".join(str(p) for p in e.absolute_path) or "(top level)"
            lines.append(f"  {where}: {e.message}")
        raise SiteError(f"{source}: invalid site configuration:\n" + "\n".join(lines))
    site = copy.deepcopy(dict(data))  # type: ignore[arg-type]
    _fill_defaults(SCHEMA, site)
    site.setdefault("env_prefix", sys.prefix)
    if site["deployment"] == "slurm":
        ip = site["slurm"]["server_ip"]
        if ip != "auto":
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise SiteError(
                    f"{source}: slurm.server_ip {ip!r}: use 'auto', '0.0.0.0' or an IP address"
                ) from None
        lo, hi = site["slurm"]["port_range"]
        if (lo, hi) != (0, 0) and not 1024 <= lo <= hi <= 65535:
            raise SiteError(f"{source}: slurm.port_range {[lo, hi]}: need 1024 ≤ low ≤ high")
        from .slurm_safety import split_command

        try:
            split_command(site["slurm"]["exec_prefix"], "slurm.exec_prefix")
        except ValueError as e:
            raise SiteError(f"{source}: {e}") from None
    check_auth(site, source)
    return site


def load_site(path: Path) -> dict[str, Any]:
    """Read and validate the site YAML at ``path``."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as e:
        raise SiteError(f"{path}: not valid YAML: {e}") from None
    return validate_site(data, str(path))


def schema_json() -> str:
    """The schema as JSON (for editors and the docs)."""
    return json.dumps(SCHEMA, indent=2)


def _catalog(value: str | None) -> Path | str | None:
    """The monitors' catalog: a server URL stays text, a file becomes a Path."""
    if not value:
        return None
    if "://" not in value:
        return Path(value)
    if re.match(r"^[A-Za-z0-9+.-]+://[^/@]*:[^/@]*@", value):  # not echoed: it holds a secret
        raise SiteError(
            "monitors.catalog: a password in the URL would be in the monitors' command line,"
            " visible to every user; give the URL without it and the password in"
            " monitors.catalog_pgpass (a libpq password file)"
        )
    return value


def configure(c, site: Mapping[str, Any]) -> None:
    """Set the JupyterHub config ``c`` from a validated ``site`` (see :func:`validate_site`)."""
    auth = site["auth"]
    password = auth.get("shared_password", "")
    stored = Path(site["state_dir"]) / "demo-password"
    if auth["type"] == "shared-password" and not password and stored.exists():
        password = stored.read_text().strip()  # made by `rarehub-hub start`
    local = LocalSite(
        state_dir=Path(site["state_dir"]),
        ip=site["hub"]["ip"],
        port=site["hub"]["port"],
        proxy_command=site["hub"]["proxy_command"],
        password=password,
        prefix=Path(site["env_prefix"]),
        idle_timeout_s=site["idle_timeout_s"],
        catalog=_catalog(site["monitors"].get("catalog")),
        catalog_pgpass=Path(site["monitors"]["catalog_pgpass"])
        if site["monitors"].get("catalog_pgpass")
        else None,
        monitor_origins=tuple(site["monitors"].get("websocket_origins", ())),
        results=Path(site["monitors"]["results"]) if site["monitors"].get("results") else None,
    )
    configure_local(c, local, unix_accounts=auth["type"] != "shared-password")
    if auth["type"] == "shared-password":
        if not password:
            raise SiteError("auth.shared_password is required with auth.type shared-password")
    else:
        # Logins are unix accounts: only those the site names (never allow_all by default).
        c.JupyterHub.authenticator_class = auth["type"]
        c.Authenticator.allow_all = bool(auth["allow_all"])
        if auth.get("allowed_groups"):
            key = "LDAPAuthenticator" if auth["type"] == "ldap" else "PAMAuthenticator"
            c[key].allowed_groups = list(auth["allowed_groups"])
    if auth["type"] == "ldap":
        ldap = auth["ldap"]
        c.LDAPAuthenticator.server_address = ldap["server_address"]
        if "server_port" in ldap:
            c.LDAPAuthenticator.server_port = ldap["server_port"]
        c.LDAPAuthenticator.tls_strategy = ldap["tls_strategy"]
        c.LDAPAuthenticator.bind_dn_template = list(ldap["bind_dn_template"])
    c.Authenticator.admin_users = set(auth["admin_users"])
    if auth.get("allowed_users"):
        c.Authenticator.allow_all = False
        c.Authenticator.allowed_users = set(auth["allowed_users"])
    hub = site["hub"]
    c.JupyterHub.hub_bind_url = f"http://{hub['api_ip']}:{hub['port'] + 1}"
    if hub.get("api_connect_host"):
        c.JupyterHub.hub_connect_url = f"http://{hub['api_connect_host']}:{hub['port'] + 1}"
    if site["deployment"] == "slurm":
        configure_slurm(c, site)


def configure_slurm(c, site: Mapping[str, Any]) -> None:
    """The Slurm deployment: servers are Slurm jobs that outlive a hub restart."""
    s = site["slurm"]
    c.JupyterHub.spawner_class = "rarehub_hub.slurm_spawner.RareHubSlurmSpawner"
    c.JupyterHub.cleanup_servers = False  # jobs keep running across a hub restart
    c.Spawner.pre_spawn_hook = None
    c.Spawner.args = []
    c.Spawner.cmd = ["jupyterhub-singleuser"]
    c.Spawner.environment = {"RAREHUB_DATA": str(Path(site["state_dir"]) / "data")}
    c.JupyterHub.allow_named_servers = True
    c.Spawner.start_timeout = s["start_timeout_s"]
    c.Spawner.poll_interval = s["poll_interval_s"]
    c.Spawner.http_timeout = 120
    sp = c.RareHubSlurmSpawner
    sp.runtime = s["runtime"]
    sp.env_prefix = site["env_prefix"]
    sp.image = s.get("image", "")
    sp.binds = s["binds"]
    sp.server_ip = s["server_ip"]
    sp.port_range = tuple(s["port_range"])
    sp.squeue_interval_s = float(s["squeue_interval_s"])
    sp.stop_timeout_s = float(s["stop_timeout_s"])
    sp.exec_prefix = s["exec_prefix"]
    sp.slurm_environment = dict(s["environment"])
    sp.job_environment = dict(s["job_environment"])
    sp.limits = dict(s["limits"])
    sp.profiles = list(s["profiles"])
    sp.walltime_warnings_minutes = [float(m) for m in s["walltime_warnings_minutes"]]
    sp.startup_poll_interval = 0.5
