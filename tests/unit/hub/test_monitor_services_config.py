"""A site with a monitor catalog gets the two monitors as hub services every user may open."""

from __future__ import annotations

from pathlib import Path

import pytest
from traitlets.config import Config

from rarehub_hub.site import SiteError, configure, validate_site


def site(tmp_path: Path, **extra) -> dict:
    return validate_site(
        {
            "deployment": "local",
            "state_dir": str(tmp_path),
            "hub": {"port": 9000},
            "auth": {"shared_password": "a-long-Zq8-vR3k"},
            **extra,
        }
    )


def test_monitors_are_services_behind_the_hub_login(tmp_path):
    c = Config()
    configure(c, site(tmp_path, monitors={"catalog": str(tmp_path / "catalog.sqlite")}))
    services = {s["name"]: s for s in c.JupyterHub.services}
    assert set(services) == {"idle-culler", "storage-monitor", "dq-monitor"}
    for name, app, port in [("storage-monitor", "storage", 9003), ("dq-monitor", "dq", 9004)]:
        s = services[name]
        assert s["url"] == f"http://127.0.0.1:{port}"
        cmd = s["command"]
        assert cmd[1:3] == ["monitor", app]
        assert cmd[cmd.index("--prefix") + 1] == f"/services/{name}"
        assert cmd[cmd.index("--address") + 1] == "127.0.0.1"
        auth_module = Path(cmd[cmd.index("--auth-module") + 1])
        assert auth_module.is_file()
        assert auth_module.name == "monitor_auth.py"
        assert s["oauth_redirect_uri"] == f"/services/{name}/login"
        assert s["oauth_no_confirm"] is True
        assert cmd[cmd.index("--allow-websocket-origin") + 1] == "127.0.0.1:9000"
        assert len(s["environment"]["BOKEH_COOKIE_SECRET"]) >= 32
    user_role = next(r for r in c.JupyterHub.load_roles if r["name"] == "user")
    assert set(user_role["scopes"]) == {
        "self",
        "access:services!service=storage-monitor",
        "access:services!service=dq-monitor",
    }


def test_a_results_folder_in_the_site_yaml_gives_the_storage_monitor_the_plan(tmp_path):
    import argparse

    from analysis_lib.apps.cli import register

    results = tmp_path / "results"
    c = Config()
    catalog = str(tmp_path / "catalog.sqlite")
    configure(c, site(tmp_path, monitors={"catalog": catalog, "results": str(results)}))
    services = {s["name"]: s for s in c.JupyterHub.services}
    storage = services["storage-monitor"]["command"]
    assert storage[storage.index("--results") + 1] == str(results)
    assert "--results" not in services["dq-monitor"]["command"]
    # the words are ones `rarehub monitor storage` accepts, as the hub will run them
    parser = argparse.ArgumentParser(prog="rarehub")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(storage[1:])
    assert Path(args.results) == results
    c = Config()
    configure(c, site(tmp_path, monitors={"catalog": catalog}))
    assert all("--results" not in s.get("command", []) for s in c.JupyterHub.services)


def test_no_catalog_no_monitors(tmp_path):
    c = Config()
    configure(c, site(tmp_path))
    assert [s["name"] for s in c.JupyterHub.services] == ["idle-culler"]
    assert [r["name"] for r in c.JupyterHub.load_roles] == ["idle-culler"]


def test_monitors_accept_the_websocket_origins_the_site_names(tmp_path):
    c = Config()
    monitors = {"catalog": "/data/catalog.sqlite", "websocket_origins": ["hub.example.org"]}
    configure(c, site(tmp_path, monitors=monitors))
    for s in c.JupyterHub.services[1:]:
        cmd = s["command"]
        assert cmd[cmd.index("--allow-websocket-origin") + 1] == "hub.example.org"
        assert cmd.count("--allow-websocket-origin") == 1


def test_monitors_read_a_catalog_server_with_a_password_file_never_a_password(tmp_path):
    url = "postgresql://catalog_reader@db.example.org/rarehub"
    pgpass = tmp_path / "monitors.pgpass"
    c = Config()
    configure(c, site(tmp_path, monitors={"catalog": url, "catalog_pgpass": str(pgpass)}))
    for s in c.JupyterHub.services[1:]:
        cmd = s["command"]
        assert cmd[cmd.index("--catalog") + 1] == url
        assert s["environment"]["PGPASSFILE"] == str(pgpass)
    secret = "pw-" + "x" * 12
    with pytest.raises(SiteError, match="catalog_pgpass") as refused:
        configure(Config(), site(tmp_path, monitors={"catalog": url.replace("@", f":{secret}@")}))
    assert secret not in str(refused.value)
