"""The Slurm-cluster example and the compose file in deploy/, checked against the hub's code.

- ``deploy/slurm-cluster/site.yaml`` passes the hub's own schema (``rarehub_hub.site``), its
  profiles stay inside its limits, and mapped onto a real traitlets config it gives the hub
  API address and the Apptainer command the docs describe.
- ``deploy/compose/compose.yaml`` is checked with PyYAML against the structure of the
  Compose Specification (a subset of its JSON schema, written below, strict about the keys
  this file uses) and for consistency: services it depends on exist, secrets and volumes
  are declared and present, only loopback is published, the proxy's version is the one
  ``hub/package.json`` pins, and the site YAML it mounts passes the hub's schema. It is not
  run here (no container registry can be reached); the hub image's Containerfile passes
  hadolint.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from traitlets.config import Config

from rarehub_hub.options import Limits, Profile, validate_options
from rarehub_hub.site import configure, load_site, validate_site
from rarehub_hub.slurm_script import runtime_prefix
from rarehub_testing import REPO, require_executable

CLUSTER = REPO / "deploy" / "slurm-cluster"
COMPOSE = REPO / "deploy" / "compose"


def load_config_file(c: Config, path: Path) -> None:
    """Run a jupyterhub_config.d file the way JupyterHub does: with ``c``/``get_config``."""
    code = compile(path.read_text(), str(path), "exec")
    exec(code, {"c": c, "get_config": lambda: c, "__file__": str(path)})


# ---- Slurm cluster ----------------------------------------------------------------------


def test_cluster_site_yaml_is_valid_and_profiles_fit_the_limits():
    site = load_site(CLUSTER / "site.yaml")
    s = site["slurm"]
    assert site["deployment"] == "slurm"
    assert s["runtime"] == "apptainer"
    assert "{version}" in s["image"]
    # compute-node servers must be reachable from the hub: never loopback
    assert s["server_ip"] == "auto", "compute-node servers must be reachable from the hub"
    limits = Limits(
        partitions=tuple(s["limits"]["partitions"]),
        cpus=tuple(s["limits"]["cpus"]),
        memory_GiB=tuple(s["limits"]["memory_GiB"]),
        walltime_minutes=tuple(s["limits"]["walltime_minutes"]),
        gpus_max=s["limits"]["gpus_max"],
        images=tuple(s["limits"]["images"]),
    )
    profiles = [Profile(**{**p, "groups": tuple(p.get("groups", ()))}) for p in s["profiles"]]
    for p in profiles:
        chosen = validate_options({"profile": p.name}, limits, profiles, list(p.groups))
        assert chosen["partition"] in limits.partitions
        assert chosen["image"] in limits.images
    # the previous image stays selectable while users still need it
    old = validate_options({"profile": "previous-image"}, limits, profiles, [])
    assert old["image"] == "1.0"
    assert validate_options({"profile": "small"}, limits, profiles, [])["image"] == "1.1"


def test_cluster_config_gives_the_documented_apptainer_command():
    site = load_site(CLUSTER / "site.yaml")
    c = Config()
    configure(c, site)
    assert c.JupyterHub.spawner_class == "rarehub_hub.slurm_spawner.RareHubSlurmSpawner"
    # the hub API on the cluster network, where servers on compute nodes can call it
    assert c.JupyterHub.hub_bind_url == "http://10.1.0.10:8001"
    assert c.JupyterHub.hub_connect_url == "http://hub.cluster.example.org:8001"
    sp = c.RareHubSlurmSpawner
    for version in site["slurm"]["limits"]["images"]:
        words = runtime_prefix(
            sp.runtime, sp.image.replace("{version}", version), sp.binds, [], "/home/alice"
        )
        assert words[:2] == ["apptainer", "exec"]
        assert words[-1] == f"/shared/rarehub/images/rarehub-{version}.sif"
        assert "/shared/data:/data:ro" in words
        assert "/shared/scratch:/shared/scratch" in words
        assert "/home/alice:/home/alice" in words


def test_a_typo_in_the_cluster_example_would_be_refused():
    data = yaml.safe_load((CLUSTER / "site.yaml").read_text())
    data["slurm"]["limits"]["partition"] = data["slurm"]["limits"].pop("partitions")
    with pytest.raises(ValueError, match="partition"):
        validate_site(data, "typo.yaml")


# ---- compose ----------------------------------------------------------------------------

_STR_LIST = {"type": "array", "items": {"type": "string"}}
_STR_OR_LIST = {"oneOf": [{"type": "string"}, _STR_LIST]}
# A subset of the Compose Specification's JSON schema (compose-spec/schema/compose-spec.json),
# strict (additionalProperties: false) over the keys this project's file may use.
COMPOSE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["services"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$"},
        "services": {
            "type": "object",
            "patternProperties": {
                "^[a-zA-Z0-9._-]+$": {
                    "type": "object",
                    "additionalProperties": False,
                    "anyOf": [{"required": ["image"]}, {"required": ["build"]}],
                    "properties": {
                        "image": {"type": "string"},
                        "build": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "context": {"type": "string"},
                                "dockerfile": {"type": "string"},
                                "args": {"type": "object"},
                            },
                        },
                        "hostname": {"type": "string"},
                        "entrypoint": _STR_OR_LIST,
                        "command": _STR_OR_LIST,
                        "environment": {
                            "type": "object",
                            "additionalProperties": {"type": ["string", "number", "boolean"]},
                        },
                        "secrets": _STR_LIST,
                        "volumes": _STR_LIST,
                        "ports": _STR_LIST,
                        "depends_on": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["condition"],
                                "properties": {
                                    "condition": {
                                        "enum": [
                                            "service_started",
                                            "service_healthy",
                                            "service_completed_successfully",
                                        ]
                                    }
                                },
                            },
                        },
                        "healthcheck": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "test": _STR_OR_LIST,
                                "interval": {"type": "string"},
                                "timeout": {"type": "string"},
                                "retries": {"type": "integer"},
                                "start_period": {"type": "string"},
                            },
                        },
                        "restart": {"enum": ["no", "always", "on-failure", "unless-stopped"]},
                    },
                }
            },
            "additionalProperties": False,
        },
        "volumes": {"type": "object"},
        "secrets": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["file"],
                "properties": {"file": {"type": "string"}},
            },
        },
    },
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((COMPOSE / "compose.yaml").read_text())


def test_compose_file_has_the_compose_spec_structure(compose):
    jsonschema.Draft202012Validator(COMPOSE_SCHEMA).validate(compose)
    assert set(compose["services"]) == {"hub", "proxy", "postgres"}


def test_compose_file_is_consistent(compose):
    services = compose["services"]
    for name, svc in services.items():
        for dep in svc.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"
        for secret in svc.get("secrets", []):
            assert secret in compose["secrets"], f"{name}: undeclared secret {secret}"
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in compose["volumes"], f"{name}: undeclared volume {source}"
        for port in svc.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    build = services["hub"]["build"]
    assert (COMPOSE / build["context"] / build["dockerfile"]).resolve().is_file()
    chp = json.loads((REPO / "hub" / "package.json").read_text())["dependencies"]
    assert services["proxy"]["image"].endswith(":" + chp["configurable-http-proxy"])


def test_compose_hub_configuration_points_at_the_other_containers(compose, tmp_path):
    site = load_site(COMPOSE / "site.yaml")
    assert "shared_password" not in site["auth"]  # made at first start, never shipped
    site["state_dir"] = str(tmp_path)
    (tmp_path / "demo-password").write_text("made-at-first-start-Zq8\n")
    c = Config()
    configure(c, site)
    assert c.SharedPasswordAuthenticator.user_password == "made-at-first-start-Zq8"
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "db_password").write_text("pw-from-secret\n")
    (secrets / "proxy_token").write_text("token-from-secret\n")
    text = (COMPOSE / "jupyterhub_config.d" / "20-compose.py").read_text()
    assert 'Path("/run/secrets")' in text
    patched = tmp_path / "20-compose.py"
    patched.write_text(text.replace('Path("/run/secrets")', f"Path({str(secrets)!r})"))
    load_config_file(c, patched)
    assert c.ConfigurableHTTPProxy.should_start is False
    assert c.ConfigurableHTTPProxy.auth_token == "token-from-secret"
    assert c.JupyterHub.db_url == (
        "postgresql+psycopg2://rarehub_hub:pw-from-secret@postgres:5432/rarehub_hub"
    )
    proxy_cmd = compose["services"]["proxy"]["command"][0]
    assert "--default-target http://hub:8001" in proxy_cmd
    assert c.JupyterHub.hub_bind_url == "http://0.0.0.0:8001"
    assert c.JupyterHub.hub_connect_url == "http://hub:8001"
    assert "--api-port 8002" in proxy_cmd
    assert c.ConfigurableHTTPProxy.api_url == "http://proxy:8002"
    assert c.Spawner.ip == "0.0.0.0"
    env = compose["services"]["postgres"]["environment"]
    assert f"{env['POSTGRES_USER']}:" in c.JupyterHub.db_url
    assert c.JupyterHub.db_url.endswith("/" + env["POSTGRES_DB"])


def test_hub_containerfile_passes_hadolint():
    beside = Path(sys.executable).with_name("hadolint")
    tool = str(beside) if beside.exists() else require_executable("hadolint", "lints it")
    result = subprocess.run(
        [tool, "--no-color", "--failure-threshold", "style", str(COMPOSE / "Containerfile.hub")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
