"""``POST /hub/api/batchspawner``: a starting server's job reports its port and address.

batchspawner 1.3's handler at this route ``setattr``s every key of the JSON body on the
spawner of the token's owner, so a user's own server token (``JUPYTERHUB_API_TOKEN``, in every
job's environment) could set ``exec_prefix``, ``job_id``, ``output_template`` … and make the
hub (root) run commands for them (issue #14). This handler replaces it at the same route:

- the token must be the ``api_token`` of one of the user's servers (the one reporting);
- that server must be starting (``pending == "spawn"``) and must not have reported yet;
- the body is a JSON object with ``port`` (an integer in ``port_range``; 1–65535 when the
  range is ``(0, 0)``) and optionally ``reported_ip``: a concrete ``server_ip`` itself; with
  ``auto``, an address of the job's node as Slurm reports it (``NodeAddr``, ``NodeHostName``
  and what they resolve to; 127.0.0.1 too when the hub API itself is on loopback); with a
  wildcard, ``""`` (the hub routes to the node Slurm names) or one of those addresses;
- anything else → HTTP 400 naming what is allowed, and an ``AUDIT`` warning in the hub log.

Nothing else on a spawner can be set from outside the hub.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from jupyterhub.apihandlers import APIHandler, default_handlers
from tornado import web

ROUTE = r"/api/batchspawner"
ALLOWED_KEYS = ("port", "reported_ip")
WILDCARD = ("0.0.0.0", "::", "")
AUTO = "auto"


class ReportRefused(ValueError):
    """A report the hub does not accept; the message says what would be accepted."""


def _short(value: object, limit: int = 80) -> str:
    """``repr`` of a hostile value for a log line: one line, bounded."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def check_report(
    spawner, body: object, node_addresses: list[str] | tuple[str, ...] = ()
) -> tuple[int, str]:
    """The ``(port, reported_ip)`` of a valid report from ``spawner``'s own job.

    ``node_addresses``: the job's node as Slurm reports it (names and addresses; needed when
    ``server_ip`` is ``auto`` or a wildcard). Raises :class:`ReportRefused` otherwise.
    """
    if spawner.pending != "spawn":
        raise ReportRefused(
            f"server {spawner.name or '(default)'!s} of {spawner.user.name} is not starting: "
            "a port is accepted only from a server's job while it starts"
        )
    if spawner.port:
        raise ReportRefused(
            f"server {spawner.name or '(default)'!s} of {spawner.user.name} already reported "
            f"port {spawner.port}: one report per start"
        )
    if not isinstance(body, dict):
        raise ReportRefused(
            f"the body must be a JSON object with keys {', '.join(ALLOWED_KEYS)}; "
            f"got {type(body).__name__}"
        )
    extra = sorted(set(body) - set(ALLOWED_KEYS))
    if extra:
        raise ReportRefused(
            f"key(s) {', '.join(_short(k, 40) for k in extra)} not allowed: "
            f"only {', '.join(ALLOWED_KEYS)} can be reported"
        )
    port = body.get("port")
    low, high = spawner.port_range
    if (low, high) == (0, 0):
        low, high = 1, 65535
    if not isinstance(port, int) or isinstance(port, bool) or not low <= port <= high:
        raise ReportRefused(f"port {_short(port)} refused: need an integer in {low}-{high}")
    ip = body.get("reported_ip", "")
    if not isinstance(ip, str):
        raise ReportRefused(f"reported_ip {_short(ip)} refused: need a string")
    server_ip = spawner.server_ip
    # A concrete server_ip is where the job binds; with auto the job binds its node's
    # address; with a wildcard the hub routes to the node Slurm names ("" = "ask Slurm").
    if server_ip == AUTO:
        allowed = list(node_addresses)
    elif server_ip in WILDCARD:
        allowed = ["", *node_addresses]
    else:
        allowed = [server_ip]
    if ip not in allowed:
        names = ", ".join(repr(a) for a in allowed) or "none known (Slurm did not say)"
        raise ReportRefused(
            f"reported_ip {_short(ip)} refused: allowed {names} "
            "(the configured server_ip, or the job's node as Slurm reports it)"
        )
    return port, ip


class SpawnerReportHandler(APIHandler):
    """RareHub's handler for ``POST /hub/api/batchspawner`` (see the module docstring)."""

    def _refuse(self, reason: str, who: str) -> None:
        self.log.warning(
            "AUDIT refused report to /hub/api/batchspawner from %s (%s): %s",
            who,
            self.request.remote_ip,
            reason,
        )
        raise web.HTTPError(400, reason)

    def _own_spawner(self, user, token: str):
        for spawner in getattr(user, "spawners", {}).values():
            own = spawner.api_token or ""
            if own and hmac.compare_digest(own.encode(), token.encode()):
                return spawner
        return None

    @web.authenticated
    async def post(self):
        user = self.current_user
        who = getattr(user, "name", "?")
        spawner = self._own_spawner(user, self.get_auth_token() or "")
        if spawner is None:
            self._refuse(
                "only a server's own token (JUPYTERHUB_API_TOKEN of its job) may report "
                "its port and address",
                who,
            )
        who = f"{who}, server {spawner.name or '(default)'}"
        try:
            body: Any = json.loads(self.request.body or b"null")
        except ValueError:
            self._refuse('the body is not JSON: send {"port": N, "reported_ip": ADDRESS}', who)
        addresses: list[str] = []
        if (
            isinstance(body, dict)
            and (spawner.server_ip == AUTO or spawner.server_ip in WILDCARD)
            and body.get("reported_ip") not in (None, "")
            and spawner.pending == "spawn"
            and hasattr(spawner, "node_addresses")
        ):
            addresses = await spawner.node_addresses()
        try:
            port, ip = check_report(spawner, body, addresses)
        except ReportRefused as e:
            self._refuse(str(e), who)
        spawner.reported_ip = ip
        spawner.port = port
        self.log.info("Server of %s reported %s:%s", who, ip or "(node name)", port)
        self.set_status(201)
        self.finish(json.dumps({"message": "port and address recorded"}))


def install() -> None:
    """Put :class:`SpawnerReportHandler` at ``/api/batchspawner`` in JupyterHub's API routes,
    in place of batchspawner's (which its import appends). JupyterHub reads the list when it
    builds its application, after loading the spawner class that calls this."""
    import batchspawner.api  # noqa: F401  (appends its handler: replace it, whatever the order)

    default_handlers[:] = [h for h in default_handlers if h[0] != ROUTE]
    default_handlers.append((ROUTE, SpawnerReportHandler))
