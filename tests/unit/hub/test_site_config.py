"""The site YAML: schema with additionalProperties false, defaults, one mapping onto traitlets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from traitlets.config import Config

from rarehub_hub.cli import main
from rarehub_hub.site import SCHEMA, SiteError, configure, load_site, validate_site

SLURM = {
    "deployment": "slurm",
    "state_dir": "/srv/rarehub",
    "auth": {"type": "pam", "admin_users": ["alice"], "allowed_groups": ["hpc"]},
    "slurm": {
        "runtime": "apptainer",
        "image": "/images/rarehub-{version}.sif",
        "binds": [{"source": "/data", "readonly": True}],
        "port_range": [9000, 9099],
        "environment": {"SLURM_CONF": "/etc/slurm/slurm.conf"},
        "limits": {"partitions": ["jupyter"], "cpus": [1, 8], "images": ["1.0"]},
        "profiles": [{"name": "small", "display_name": "Small", "cpus": 2}],
    },
}


def test_unknown_keys_are_refused_with_their_path():
    with pytest.raises(SiteError, match=r"slurm: Additional properties .*'runtim'"):
        validate_site({**SLURM, "slurm": {"runtim": "none"}})
    with pytest.raises(SiteError, match=r"slurm.profiles.0.cpus: 0 is less than"):
        validate_site(
            {**SLURM, "slurm": {"profiles": [{"name": "a", "display_name": "A", "cpus": 0}]}}
        )
    with pytest.raises(SiteError, match=r"deployment: 'k8s' is not one of"):
        validate_site({**SLURM, "deployment": "k8s"})
    with pytest.raises(SiteError, match="port_range"):
        validate_site({**SLURM, "slurm": {"port_range": [80, 90]}})


def test_every_object_in_the_schema_refuses_unknown_keys():
    def objects(node, path="$"):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                yield path, node
            for key, value in node.items():
                yield from objects(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from objects(value, f"{path}[{i}]")

    found = list(objects(SCHEMA))
    assert len(found) >= 6
    for path, node in found:
        assert node.get("additionalProperties") is False, path


def test_slurm_site_maps_onto_spawner_traits():
    site = validate_site(SLURM)
    assert site["hub"] == {
        "ip": "127.0.0.1",
        "port": 8000,
        "proxy_command": "configurable-http-proxy",
        "api_ip": "127.0.0.1",
    }
    c = Config()
    configure(c, site)
    sp = c.RareHubSlurmSpawner
    assert c.JupyterHub.spawner_class.endswith("RareHubSlurmSpawner")
    assert c.JupyterHub.cleanup_servers is False
    assert c.JupyterHub.authenticator_class == "pam"
    assert c.Authenticator.admin_users == {"alice"}
    assert sp.runtime == "apptainer"
    assert sp.port_range == (9000, 9099)
    assert sp.server_ip == "auto"  # the node's address towards the hub, not loopback
    assert sp.slurm_environment == {"SLURM_CONF": "/etc/slurm/slurm.conf"}
    assert sp.limits["partitions"] == ["jupyter"]
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8000"
    assert c.JupyterHub.hub_bind_url == "http://127.0.0.1:8001"
    # On a cluster the nodes must reach the hub API: bind and connect addresses are settable.
    c = Config()
    configure(c, validate_site({**SLURM, "hub": {"api_ip": "10.0.0.5", "api_connect_host": "hub"}}))
    assert c.JupyterHub.hub_bind_url == "http://10.0.0.5:8001"
    assert c.JupyterHub.hub_connect_url == "http://hub:8001"


def test_local_site_keeps_the_embedded_default(tmp_path):
    site = validate_site(
        {
            "deployment": "local",
            "state_dir": str(tmp_path),
            "auth": {"shared_password": "Zq8-vR3k-Lm2w"},
        }
    )
    c = Config()
    configure(c, site)
    assert c.JupyterHub.spawner_class == "simple"
    assert c.JupyterHub.cleanup_servers is True
    assert c.SharedPasswordAuthenticator.user_password == "Zq8-vR3k-Lm2w"
    with pytest.raises(SiteError, match="shared_password is required"):
        configure(Config(), validate_site({"deployment": "local", "state_dir": str(tmp_path)}))


def test_cli_checks_a_yaml_file(tmp_path, capsys):
    path = tmp_path / "site.yaml"
    auth = "auth: {type: pam, allow_all: true}\n"
    path.write_text(f"deployment: slurm\nstate_dir: /srv\n{auth}slurm: {{runtime: podman}}\n")
    main(["check-config", str(path)])
    shown = json.loads(capsys.readouterr().out)
    assert shown["slurm"]["runtime"] == "podman"
    assert shown["slurm"]["squeue_interval_s"] == 10
    path.write_text(f"deployment: slurm\nstate_dir: /srv\n{auth}slurm: {{runtime: docker}}\n")
    with pytest.raises(SystemExit, match=r"(?s)site.yaml: invalid.*slurm.runtime: 'docker'"):
        main(["check-config", str(path)])
    path.write_text("deployment: [\n")
    with pytest.raises(SiteError, match="not valid YAML"):
        load_site(path)


def test_the_shipped_example_is_valid():
    example = Path(__file__).parents[3] / "hub" / "examples" / "site-slurm.yaml"
    site = load_site(example)
    assert site["slurm"]["profiles"][2]["groups"] == ["gpu-users"]
    c = Config()
    configure(c, site)
    assert c.RareHubSlurmSpawner.image.endswith("rarehub-{version}.sif")


@pytest.mark.parametrize("ip", ["auto", "0.0.0.0", "10.1.2.3", "::"])
def test_server_ip_accepts_auto_wildcard_and_addresses(ip):
    site = validate_site({**SLURM, "slurm": {**SLURM["slurm"], "server_ip": ip}})
    assert site["slurm"]["server_ip"] == ip


@pytest.mark.parametrize("ip", ["node1", "10.1.2", "auto ", ""])
def test_server_ip_refuses_names_and_garbage(ip):
    with pytest.raises(SiteError, match=r"slurm\.server_ip .*'auto', '0\.0\.0\.0' or an IP"):
        validate_site({**SLURM, "slurm": {**SLURM["slurm"], "server_ip": ip}}, "site.yaml")
