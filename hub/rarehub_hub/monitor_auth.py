"""Bokeh auth module: a monitor run as a JupyterHub service accepts hub-logged-in users only.

The hub passes this file's path to ``rarehub monitor --auth-module``; Bokeh loads it in the
service's process (so ``analysis_lib`` never imports the hub). It follows Bokeh's auth-module
interface: ``get_user_async(handler)``, ``login_url`` and a ``LoginHandler``.

Flow (JupyterHub OAuth, ``jupyterhub.services.auth.HubOAuth``): a request without the
service's OAuth cookie is redirected by Bokeh to ``./login?next=PAGE``; ``LoginHandler``
stores an OAuth state cookie and redirects to the hub's authorize URL; the hub (after its own
login) redirects back to ``{prefix}/login?code=…&state=…`` (the service's
``oauth_redirect_uri``), where the same handler exchanges the code for a token, sets the
cookie and returns to PAGE. The user must hold ``access:services!service=NAME``.

Needs the environment JupyterHub gives a managed service (``JUPYTERHUB_API_TOKEN``,
``JUPYTERHUB_CLIENT_ID``, ``JUPYTERHUB_SERVICE_PREFIX`` …) and a Tornado cookie secret
(``BOKEH_COOKIE_SECRET``) for the signed cookies.
"""

from __future__ import annotations

import os
from typing import Any

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from tornado.httputil import url_concat

login_url = "/login"  # relative: Bokeh serves LoginHandler at {prefix}/login

_prefix = os.environ["JUPYTERHUB_SERVICE_PREFIX"]  # "/services/NAME/"
# The hub sends the user back to the service's oauth_redirect_uri, "{prefix}/login": this
# module's LoginHandler (JupyterHub does not pass it to services in the environment).
auth = HubOAuth(
    api_token=os.environ["JUPYTERHUB_API_TOKEN"],
    oauth_redirect_uri=_prefix.rstrip("/") + login_url,
    cache_max_age=60,
)


async def get_user_async(request_handler) -> str | None:
    """The hub user name of the request's OAuth cookie, or None (Bokeh then redirects)."""
    model: dict[str, Any] | None = await auth.get_user(request_handler, sync=False)
    if not model or not auth.check_scopes(auth.access_scopes, model):
        return None
    return model["name"]


class LoginHandler(HubOAuthCallbackHandler):
    """``{prefix}/login``: start the hub OAuth login, or finish it when ``code`` is given."""

    @property
    def hub_auth(self) -> HubOAuth:
        return auth

    @hub_auth.setter
    def hub_auth(self, value: HubOAuth) -> None:  # the base class may assign; keep ours
        pass

    async def get(self) -> None:
        if self.get_argument("code", None) or self.get_argument("error", None):
            await super().get()  # token exchange, cookie, redirect to the stored next URL
            return
        next_url = self.get_argument("next", "")
        # only pages of this service: never an open redirect elsewhere
        if not next_url.startswith(auth.base_url) or next_url.startswith("//"):
            next_url = auth.base_url
        state = auth.set_state_cookie(self, next_url=next_url)
        self.redirect(url_concat(auth.login_url, {"state": state}))
