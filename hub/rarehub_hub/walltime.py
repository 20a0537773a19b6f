"""Walltime of the Slurm job a single-user server runs in: a Jupyter server extension.

``GET {base_url}rarehub/walltime`` answers the lab's walltime-warning extension
(``rarehub_hub/jupyter/data/labextensions/rarehub-walltime-warning``, batchspawner #120)::

    {"job_id": "123", "remaining_s": 95.2, "end_epoch_s": 1795650000,
     "warn_minutes": [10.0, 2.0], "source": "squeue"}

``job_id`` null means "not in a Slurm job": no warning. The values come from the job:

- ``SLURM_JOB_ID`` (Slurm sets it; the podman prefix passes it into the container);
- ``RAREHUB_JOB_END`` — the end of the walltime in seconds since the epoch, written by the
  job script (its start + the time limit);
- ``RAREHUB_WALLTIME_WARN_MINUTES`` — comma-separated minutes before the end at which the
  lab warns (site YAML ``slurm.walltime_warnings_minutes``).

Where ``squeue`` works (runtime ``none`` on a node with the Slurm client), the end time is
asked from Slurm instead (``squeue -h -j ID -o %e``), so a time limit an admin changed while
the job runs is seen; the answer is reused for :data:`SQUEUE_CACHE_S`.

Runs inside the image: imports only the standard library, tornado and jupyter_server.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

#: Seconds an ``squeue`` answer about the job's end is reused.
SQUEUE_CACHE_S = 60.0
#: The URL path (below the server's base URL) of the endpoint.
ENDPOINT = "rarehub/walltime"


class WalltimeError(ValueError):
    """The job's walltime variables are malformed; the message names the variable and value."""


def parse_warn_minutes(text: str) -> list[float]:
    """``"10,2"`` → ``[10.0, 2.0]`` (sorted, largest first); every value must be > 0."""
    values = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            value = float("nan")
        if not value > 0 or value == float("inf"):
            raise WalltimeError(
                f"RAREHUB_WALLTIME_WARN_MINUTES={text!r}: {part!r} is not a positive number of "
                "minutes (expected e.g. '10,2')"
            )
        values.append(value)
    return sorted(set(values), reverse=True)


def parse_squeue_end(text: str) -> float | None:
    """``squeue -o %e`` output (local time, e.g. ``2026-11-26T01:23:45``) → epoch seconds.

    None when Slurm has no end time (``N/A``, ``Unknown``, empty: e.g. no time limit)."""
    value = text.strip()
    if not value or value in {"N/A", "Unknown", "NONE"}:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()  # naive = local time, as squeue prints
    except ValueError:
        return None


#: Where a node's Slurm client finds its configuration (besides ``$SLURM_CONF``): the classic
#: file, and the copy slurmd keeps in "configless" clusters.
SLURM_CONF_PATHS = ("/etc/slurm/slurm.conf", "/run/slurm/conf/slurm.conf")


def slurm_client_configured(environ: Mapping[str, str]) -> bool:
    """True if ``squeue`` here has a configuration file to read. Without one it would look
    the controller up in DNS (SRV records) and wait for that: not worth it for a warning."""
    conf = environ.get("SLURM_CONF")
    candidates = [conf] if conf else list(SLURM_CONF_PATHS)
    return any(Path(path).is_file() for path in candidates)


def squeue_end(job_id: str, timeout_s: float = 5.0) -> float | None:
    """The job's end time according to ``squeue``, or None when squeue is absent, has no
    configuration (:func:`slurm_client_configured`) or fails."""
    squeue = shutil.which("squeue")
    if squeue is None or not slurm_client_configured(os.environ):
        return None
    try:
        r = subprocess.run(
            [squeue, "-h", "-j", job_id, "-o", "%e"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        return None
    return parse_squeue_end(r.stdout)


def job_walltime(
    environ: Mapping[str, str],
    now_s: float,
    ask_slurm: Callable[[str], float | None] | None = None,
) -> dict[str, object]:
    """What the lab needs to warn about the walltime, from the job's ``environ`` at ``now_s``.

    Parameters
    ----------
    environ
        The server's environment (``SLURM_JOB_ID``, ``RAREHUB_JOB_END``,
        ``RAREHUB_WALLTIME_WARN_MINUTES``).
    now_s
        The current time, seconds since the epoch.
    ask_slurm
        ``job_id → end (epoch s) or None``; tried first when given (see :func:`squeue_end`).

    Returns
    -------
    dict
        ``job_id`` (None: not a Slurm job, nothing to warn about), ``remaining_s``,
        ``end_epoch_s``, ``warn_minutes`` (largest first) and ``source``
        (``"squeue"``, ``"environment"`` or None).

    Raises
    ------
    WalltimeError
        A variable is set but malformed (the message names it and its value).
    """
    job_id = environ.get("SLURM_JOB_ID", "").strip()
    warn = parse_warn_minutes(environ.get("RAREHUB_WALLTIME_WARN_MINUTES", ""))
    nothing = {
        "job_id": None,
        "remaining_s": None,
        "end_epoch_s": None,
        "warn_minutes": warn,
        "source": None,
    }
    if not job_id:
        return nothing
    end: float | None = None
    source = None
    if ask_slurm is not None:
        end = ask_slurm(job_id)
        source = "squeue" if end is not None else None
    if end is None:
        raw = environ.get("RAREHUB_JOB_END", "").strip()
        if raw:
            try:
                end = float(int(raw))
            except ValueError:
                raise WalltimeError(
                    f"RAREHUB_JOB_END={raw!r} is not the job's end in whole seconds since the "
                    "epoch (the job script sets it from the start time and the time limit)"
                ) from None
            source = "environment"
    if end is None:  # a job without a known end (no time limit): nothing to warn about
        return {**nothing, "job_id": job_id}
    return {
        "job_id": job_id,
        "remaining_s": round(end - now_s, 1),
        "end_epoch_s": end,
        "warn_minutes": warn,
        "source": source,
    }


class WalltimeHandler(APIHandler):
    """``GET``: :func:`job_walltime` of this server's job as JSON (login required)."""

    _cache: tuple[float, str, float | None] | None = None  # (asked at, job id, end)

    @staticmethod
    async def _slurm_end(job_id: str) -> float | None:
        """:func:`squeue_end`, in a thread (the server keeps serving), reused for a while."""
        now = time.monotonic()
        cached = WalltimeHandler._cache
        if cached and cached[1] == job_id and now - cached[0] < SQUEUE_CACHE_S:
            return cached[2]
        end = await asyncio.to_thread(squeue_end, job_id)
        WalltimeHandler._cache = (now, job_id, end)
        return end

    @web.authenticated
    async def get(self):
        job_id = os.environ.get("SLURM_JOB_ID", "").strip()
        slurm_end = await self._slurm_end(job_id) if job_id else None
        try:
            info = job_walltime(os.environ, time.time(), lambda _job: slurm_end)
        except WalltimeError as e:
            self.log.error("rarehub walltime: %s", e)
            raise web.HTTPError(500, str(e)) from None
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(info))


def _jupyter_server_extension_points():
    return [{"module": "rarehub_hub.walltime"}]


def _load_jupyter_server_extension(serverapp) -> None:
    web_app = serverapp.web_app
    route = url_path_join(web_app.settings["base_url"], ENDPOINT)
    web_app.add_handlers(".*$", [(route, WalltimeHandler)])
    serverapp.log.info("rarehub walltime endpoint at %s", route)
