from pathlib import Path

import pytest
from traitlets.config import Config

from rarehub_hub.local import LocalSite, configure_local, deliver_tutorials
from rarehub_hub.start import ensure_password


def test_config_binds_loopback_and_uses_state(tmp_path):
    c = Config()
    site = LocalSite(tmp_path, "127.0.0.1", 8000, "/bin/chp", "password123")
    configure_local(c, site)
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8000"
    assert c.JupyterHub.hub_bind_url.startswith("http://127.0.0.1:")
    assert c.ConfigurableHTTPProxy.api_url.startswith("http://127.0.0.1:")
    assert c.Spawner.ip == "127.0.0.1"
    assert str(tmp_path) in c.JupyterHub.db_url
    assert c.SharedPasswordAuthenticator.user_password == "password123"


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
