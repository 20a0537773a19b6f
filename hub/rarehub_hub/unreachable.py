"""What a user sees while their server's node cannot be reached: a page, not a hung request.

When :meth:`~rarehub_hub.slurm_lifecycle.SlurmJobLifecycle.poll` finds that Slurm still runs a
server's job but the server does not accept a connection (a node cut off, a dead switch
port, a firewall), it points the server's proxy route at :class:`UnreachableHandler` on the
hub, which answers at once with HTTP 503 and says so; the job and the hub's record of it are
kept. When the server answers again, the route goes back to it. Without this the proxy would
wait on the unreachable address until the kernel gave up (tens of seconds to minutes).

The page carries no user data (the proxy forwards no hub cookie to it): only that the server
at this URL does not answer and that the hub keeps it.
"""

from __future__ import annotations

import json

from tornado import web

#: Under the hub's base URL (``/hub/``): the proxy prepends the request's own path.
PATH = "rarehub/unreachable"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Server unreachable</title>
<meta http-equiv="refresh" content="{refresh}"></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>Your server does not answer</h1>
<p id="rh-unreachable">The compute node running your server cannot be reached from the hub.
Slurm still runs your job and the hub keeps it: nothing is lost.
This page reloads every {refresh} s and takes you back as soon as the node answers.</p>
<p><a href="/hub/home">Hub home</a></p>
</body></html>
"""


class UnreachableHandler(web.RequestHandler):
    """Any request for a server the hub cannot reach: 503, at once."""

    def initialize(self, refresh_s: int = 10) -> None:
        self.refresh_s = refresh_s

    def _answer(self, *args) -> None:
        self.set_status(503)
        self.set_header("Retry-After", str(self.refresh_s))
        self.set_header("Cache-Control", "no-store")
        accept = self.request.headers.get("Accept", "")
        if "application/json" in accept or "/api/" in self.request.path:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"status": 503, "message": "server unreachable"}))
            return
        self.finish(PAGE.format(refresh=self.refresh_s))

    get = post = put = patch = delete = head = options = _answer

    def check_xsrf_cookie(self) -> None:  # nothing here changes state
        return None


def register() -> None:
    """Add :class:`UnreachableHandler` to JupyterHub's handlers (once; before the hub starts
    its web app, as batchspawner registers its API handler)."""
    from jupyterhub.handlers import default_handlers

    pattern = rf"/{PATH}/(.*)"
    if not any(h[0] == pattern for h in default_handlers):
        default_handlers.append((pattern, UnreachableHandler))
