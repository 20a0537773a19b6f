"""A monitor served with an auth module refuses the page until the user has logged in.

The auth module here is a stand-in with the same interface the hub's (JupyterHub OAuth)
one has: ``get_user`` reads a cookie, ``login_url`` names where to log in. The hub's own
test covers the real hub login; this one covers how ``rarehub monitor`` applies any.
"""

from __future__ import annotations

import textwrap

import requests

AUTH_MODULE = textwrap.dedent(
    """
    import tornado.web

    login_url = "/login"


    def get_user(request_handler):
        return request_handler.get_cookie("rarehub_test_user")


    class LoginHandler(tornado.web.RequestHandler):
        def get(self):
            self.set_cookie("rarehub_test_user", "alice", path="/")
            self.write("<p id='login'>logged in as alice</p>")
    """
)


def test_dq_monitor_requires_login(page, rarehub_monitor, sample_catalog, tmp_path):
    auth = tmp_path / "auth.py"
    auth.write_text(AUTH_MODULE)
    server = rarehub_monitor(
        "dq", sample_catalog, "--prefix", "/services/dq", "--auth-module", str(auth)
    )

    refused = requests.get(f"{server.url}/", allow_redirects=False, timeout=30)
    assert refused.status_code == 302
    assert refused.headers["Location"].startswith("./login")

    page.goto(f"{server.url}/")  # redirected to the login page, which sets the cookie
    page.locator("#login").wait_for()
    page.goto(f"{server.url}/")
    page.locator(".rh-suspicious").get_by_text("No run deviates").wait_for()
    assert page.blocked_urls == []
