import asyncio
from ipaddress import ip_address
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from jupyterhub.authenticators.shared import SharedPasswordAuthenticator
from sqlalchemy.engine import make_url
from traitlets.config import Config

from rarehub_hub.local import LocalSite, configure_local, deliver_tutorials
from rarehub_hub.start import ensure_password


def test_config_keeps_every_listener_on_loopback_and_every_file_in_the_state(tmp_path):
    """What the configuration does, not what it says: for a port of our choosing, three
    loopback listeners on three ports, the hub's files inside the state folder, and a
    shared password that logs anyone in (and a wrong one nobody)."""
    c = Config()
    port = 18123  # not the default: the configuration must follow the site's port
    configure_local(c, LocalSite(tmp_path, "127.0.0.1", port, "/bin/chp", "password123"))
    listeners = [
        urlsplit(u)
        for u in (c.JupyterHub.bind_url, c.JupyterHub.hub_bind_url, c.ConfigurableHTTPProxy.api_url)
    ]
    assert all(ip_address(u.hostname).is_loopback for u in listeners)
    assert ip_address(c.Spawner.ip).is_loopback
    assert listeners[0].port == port
    assert len({u.port for u in listeners}) == 3  # public proxy, hub API, proxy API
    database = Path(make_url(c.JupyterHub.db_url).database)
    for path in (database, c.JupyterHub.cookie_secret_file, c.ConfigurableHTTPProxy.pid_file):
        assert Path(path).is_relative_to(tmp_path), path

    auth = SharedPasswordAuthenticator(config=c)

    def login(name, password):
        data = {"username": name, "password": password}
        return asyncio.run(auth.get_authenticated_user(None, data))

    assert login("alice", "password123")["name"] == "alice"
    assert login("bob", "password123")["name"] == "bob"
    assert login("alice", "password124") is None


def test_tutorials_copied_but_never_overwritten(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.ipynb").write_text("original")
    home, data = tmp_path / "home", tmp_path / "data"
    data.mkdir()
    assert deliver_tutorials(src, home, data) == [home / "tutorials" / "a.ipynb"]
    (home / "tutorials" / "a.ipynb").write_text("user's edit")
    (src / "b.ipynb").write_text("new tutorial")
    copied = deliver_tutorials(src, home, data)
    assert copied == [home / "tutorials" / "b.ipynb"]
    assert (home / "tutorials" / "a.ipynb").read_text() == "user's edit"
    assert (home / "data").resolve() == data.resolve()


def test_password_random_stored_and_reused(tmp_path):
    p1 = ensure_password(tmp_path, None)
    assert len(p1) >= 12
    assert (tmp_path / "demo-password").stat().st_mode & 0o777 == 0o600
    assert ensure_password(tmp_path, None) == p1
    other = Path(tmp_path / "x")
    other.mkdir()
    assert ensure_password(other, None) != p1


def test_password_too_short_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="at least 8"):
        ensure_password(tmp_path, "short")


def test_local_servers_do_not_ask_for_jupyter_news(tmp_path, monkeypatch):
    """JupyterLab's news prompt fetches from the internet: the local servers' page config,
    as JupyterLab itself computes it from their environment, disables the plugin."""
    from jupyterlab_server.config import get_page_config

    plugin = "@jupyterlab/apputils-extension:announcements"
    monkeypatch.delenv("JUPYTER_CONFIG_PATH", raising=False)
    assert plugin not in get_page_config([])["disabledExtensions"]  # JupyterLab's default
    c = Config()
    configure_local(c, LocalSite(tmp_path, "127.0.0.1", 18123, "/bin/chp", "password123"))
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", c.Spawner.environment["JUPYTER_CONFIG_PATH"])
    assert plugin in get_page_config([])["disabledExtensions"]
