"""``RareHubSlurmSpawner``: batchspawner's SlurmSpawner, hardened for what HPC users asked for.

On top of :class:`batchspawner.SlurmSpawner`:

- the batch script is rendered only from values that :func:`~rarehub_hub.options.validate_options`
  accepted (profiles + free values within admin limits), each shell-quoted;
- the server runs inside the RareHub image through a container-runtime prefix
  (``apptainer``, ``podman``) or from a shared environment (``none``);
- the server binds :attr:`server_ip` and a port from :attr:`port_range` (batchspawner binds
  0.0.0.0 and any port), and the hub routes to the address the job reports;
- one ``squeue`` per :attr:`squeue_interval_s` answers every spawner of the hub
  (:class:`SqueueBatcher`, batchspawner #292); a failed ``squeue`` is "unknown", never
  "job gone" (#315, #171, #134); a restarted hub re-attaches running jobs;
- the pending page shows Slurm's pending reason, the scheduler's refusal and the tail of the
  job's output when it dies (#308, #253); stopping a pending spawn cancels the job (#193).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shlex
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from batchspawner import SlurmSpawner
from prometheus_client import Counter, Histogram
from sqlalchemy.orm import object_session
from tornado import web
from tornado.httpclient import AsyncHTTPClient
from traitlets import (
    Any,
    Bool,
    CaselessStrEnum,
    Dict,
    Float,
    Integer,
    List,
    TraitError,
    Tuple,
    Unicode,
    default,
    observe,
    validate,
)

from .options import (
    Limits,
    OptionsError,
    Profile,
    form_data_to_raw,
    format_walltime,
    render_form,
    validate_options,
)

# Exposed on the hub's /hub/metrics with JupyterHub's own (same default registry).
QUEUE_WAIT = Histogram(
    "rarehub_slurm_queue_wait_seconds",
    "Seconds from sbatch to the server's job RUNNING",
    buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, float("inf")),
)
SQUEUE_CALLS = Counter("rarehub_slurm_squeue_calls", "squeue runs (one per interval for all)")
SQUEUE_FAILURES = Counter("rarehub_slurm_squeue_failures", "squeue runs that failed")

RUNNING_STATES = {"RUNNING", "COMPLETING", "STAGE_OUT"}
PENDING_STATES = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "RESIZING", "SUSPENDED"}


@dataclass(frozen=True)
class JobInfo:
    """One job as ``squeue`` lists it."""

    state: str
    node: str = ""
    reason: str = ""


@dataclass
class Snapshot:
    """One ``squeue`` call's answer. ``jobs`` is None when the call failed."""

    started: float
    jobs: dict[str, JobInfo] | None
    error: str = ""


@dataclass
class SqueueBatcher:
    """One ``squeue`` for all the hub's jobs, shared by every spawner.

    ``snapshot(max_age_s, newer_than)`` returns the latest answer if it is recent enough, joins
    a call already in flight, or starts one. ``calls`` counts the ``squeue`` runs.
    """

    command: tuple[str, ...]
    env: Mapping[str, str] | None = None
    timeout_s: float = 30.0
    calls: int = 0
    _last: Snapshot | None = None
    _inflight: asyncio.Future | None = None
    _inflight_started: float = 0.0

    _instances: ClassVar[dict] = {}

    @classmethod
    def shared(cls, command: tuple[str, ...], env: Mapping[str, str] | None) -> SqueueBatcher:
        key = (command, tuple(sorted((env or {}).items())))
        if key not in cls._instances:
            cls._instances[key] = cls(command, dict(env) if env is not None else None)
        return cls._instances[key]

    async def snapshot(self, max_age_s: float, newer_than: float = 0.0) -> Snapshot:
        now = time.monotonic()
        last = self._last
        if last is not None and now - last.started <= max_age_s and last.started >= newer_than:
            return last
        if self._inflight is not None and not self._inflight.done():
            if self._inflight_started >= newer_than:
                return await asyncio.shield(self._inflight)
            with contextlib.suppress(Exception):
                await asyncio.shield(self._inflight)
        self._inflight_started = time.monotonic()
        self._inflight = asyncio.ensure_future(self._run(self._inflight_started))
        return await asyncio.shield(self._inflight)

    async def _run(self, started: float) -> Snapshot:
        self.calls += 1
        SQUEUE_CALLS.inc()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.command,
                env=dict(self.env) if self.env is not None else None,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                out, err = await asyncio.wait_for(proc.communicate(), self.timeout_s)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                snap = Snapshot(started, None, f"squeue gave no answer in {self.timeout_s} s")
            else:
                if proc.returncode != 0:
                    text = err.decode(errors="replace").strip()
                    snap = Snapshot(started, None, f"squeue failed ({proc.returncode}): {text}")
                else:
                    snap = Snapshot(started, parse_squeue(out.decode(errors="replace")))
        except OSError as e:
            snap = Snapshot(started, None, f"squeue could not run: {e}")
        if snap.jobs is None:
            SQUEUE_FAILURES.inc()
        if self._last is None or snap.started >= self._last.started:
            self._last = snap
        return snap


SQUEUE_FORMAT = "%i|%T|%N|%r"


def parse_squeue(text: str) -> dict[str, JobInfo]:
    """Parse ``squeue -h -o '%i|%T|%N|%r'`` output into job id → :class:`JobInfo`."""
    jobs = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 4 and parts[0]:
            jobs[parts[0]] = JobInfo(parts[1], parts[2], parts[3])
    return jobs


#: Variables the job script sets (or Slurm) that the server inside the image needs.
JOB_ENV_NAMES = ("SLURM_JOB_ID", "RAREHUB_JOB_END", "RAREHUB_WALLTIME_WARN_MINUTES")

#: Variables JupyterHub keeps from the hub's environment that describe the host, not the image.
HOST_ONLY_ENV = frozenset(
    {"PATH", "PYTHONPATH", "VIRTUAL_ENV", "CONDA_ROOT", "CONDA_DEFAULT_ENV", "LD_LIBRARY_PATH"}
)


def runtime_prefix(
    runtime: str,
    image: str,
    binds: list[Mapping[str, str]],
    env_names: list[str],
    home: str,
    user: str = "",
) -> list[str]:
    """The command words that run the server inside the image.

    ``runtime`` ``none`` runs from a shared environment (no prefix); ``apptainer`` uses
    ``apptainer exec --bind SRC:DST[:ro] … IMAGE.sif``; ``podman`` uses a rootless
    ``podman run`` on the host network, read-only, as the job's own UID (``user`` ``UID:GID``
    overrides the image's ``USER``), with the home and the binds mounted and the environment
    variables ``env_names`` passed by name (values never appear on the command line), except
    the host's search paths (``PATH``, ``PYTHONPATH`` …) which would point outside the image.
    """
    if runtime == "none":
        return []
    mounts = []
    for b in binds:
        ro = ":ro" if b.get("readonly", True) else ""
        mounts.append(f"{b['source']}:{b.get('target') or b['source']}{ro}")
    if runtime == "apptainer":
        words = ["apptainer", "exec", "--bind", f"{home}:{home}"]
        for m in mounts:
            words += ["--bind", m]
        return [*words, image]
    if runtime == "podman":
        words = [
            "podman",
            "run",
            "--rm",
            "--userns=keep-id",
            "--network=host",
            "--read-only",
            # The hub watches the server; without systemd podman cannot time health checks.
            "--no-healthcheck",
            *([f"--user={user}"] if user else []),
            f"--env=HOME={home}",
            "--volume",
            f"{home}:{home}",
            "--workdir",
            home,
        ]
        for m in mounts:
            words += ["--volume", m]
        for name in env_names:
            if name not in HOST_ONLY_ENV:
                words += ["--env", name]
        return [*words, image]
    raise ValueError(f"unknown container runtime {runtime!r}: use none, apptainer or podman")


class RareHubSlurmSpawner(SlurmSpawner):
    """Spawn each user's server as a Slurm job running the RareHub image."""

    runtime = CaselessStrEnum(
        ["none", "apptainer", "podman"],
        default_value="none",
        help="Container runtime: 'apptainer', 'podman', or 'none' (run from env_prefix).",
    ).tag(config=True)

    env_prefix = Unicode(
        "/opt/rarehub/venv",
        help="With runtime 'none': the shared, world-readable Python environment on the nodes.",
    ).tag(config=True)

    image = Unicode(
        "",
        help="Image with '{version}' for the chosen image version: a .sif path (apptainer) "
        "or an image reference (podman).",
    ).tag(config=True)

    binds = List(
        Dict(),
        help="Extra mounts [{source, target, readonly (default true)}] for shared data.",
    ).tag(config=True)

    server_ip = Unicode(
        "127.0.0.1",
        help="Address the server binds inside the job. '0.0.0.0' binds all and the hub routes "
        "to the node's name; a concrete address is also the one the hub connects to.",
    ).tag(config=True)

    port_range = Tuple(
        Integer(),
        Integer(),
        default_value=(0, 0),
        help="Inclusive (low, high) port range for the server on the node; (0, 0): any port.",
    ).tag(config=True)

    squeue_interval_s = Float(
        10.0,
        help="Seconds an squeue answer is reused by every spawner (one squeue per interval).",
    ).tag(config=True)

    slurm_environment = Dict(
        help="Environment for the hub's own Slurm commands (e.g. SLURM_CONF).",
    ).tag(config=True)

    job_environment = Dict(
        help="Admin-set variables exported inside the job script (not secrets).",
    ).tag(config=True)

    job_name = Unicode("rarehub-jupyter", help="Slurm job name of the servers.").tag(config=True)

    walltime_warnings_minutes = List(
        Float(),
        default_value=[10.0, 2.0],
        help="Minutes before the job's walltime ends at which JupyterLab warns the user "
        "(each once; [] for none). The job script exports them and the job's end time "
        "(RAREHUB_WALLTIME_WARN_MINUTES, RAREHUB_JOB_END) for rarehub_hub.walltime.",
    ).tag(config=True)

    ready_check_interval_s = Float(
        0.1,
        help="Seconds between checks that the job's server answers HTTP, after it reported "
        "its port and before start() returns (JupyterHub's own check backs off to seconds).",
    ).tag(config=True)

    output_template = Unicode(
        "{homedir}/.rarehub-jupyter-%j.log",
        help="The job's output file ('%j' is the job id); shown on the pending page on failure.",
    ).tag(config=True)

    limits = Dict(
        help="Admin limits: partitions, cpus [min,max], memory_GiB [min,max], "
        "walltime_minutes [min,max], gpus_max, images.",
    ).tag(config=True)

    profiles = List(
        Dict(),
        help="Profiles: name, display_name, cpus, memory_GiB, walltime_minutes, gpus, "
        "partition, image, groups (empty: everyone).",
    ).tag(config=True)

    reported_ip = Unicode("", help="Set by the job: the address it bound ('' = node name).")
    _port_event: asyncio.Event | None = None  # set when the job reports its port
    progress_message = Unicode("")
    submitted_at = Float(0.0)
    server_started = Bool(False, help="The job's server became ready (saved in the state).")
    user_groups_func = Any(
        None, help="Callable(username) → group names; default: the unix groups."
    ).tag(config=True)

    @default("batch_submit_cmd")
    def _default_submit(self) -> str:
        return "sbatch --parsable"

    @default("batch_cancel_cmd")
    def _default_cancel(self) -> str:
        return "scancel {job_id}"

    @validate("walltime_warnings_minutes")
    def _check_warnings(self, proposal):
        for minutes in proposal["value"]:
            if not 0 < minutes < float("inf"):
                raise TraitError(f"walltime_warnings_minutes: {minutes} is not > 0 minutes")
        return sorted(set(proposal["value"]), reverse=True)

    @validate("port_range")
    def _check_range(self, proposal):
        low, high = proposal["value"]
        if (low, high) != (0, 0) and not 1024 <= low <= high <= 65535:
            raise ValueError(f"port_range {low}-{high}: need 1024 ≤ low ≤ high ≤ 65535")
        return proposal["value"]

    # ---- form and options -------------------------------------------------------------

    def _limits(self) -> Limits:
        d = dict(self.limits)
        for key in ("partitions", "images"):
            if key in d:
                d[key] = tuple(d[key])
        for key in ("cpus", "memory_GiB", "walltime_minutes"):
            if key in d:
                d[key] = tuple(d[key])
        return Limits(**d)

    def _profiles(self) -> list[Profile]:
        out = []
        for p in self.profiles or [{"name": "default", "display_name": "Default"}]:
            p = dict(p)
            p["groups"] = tuple(p.get("groups", ()))
            out.append(Profile(**p))
        return out

    def user_groups(self) -> list[str]:
        if self.user_groups_func is not None:
            return list(self.user_groups_func(self.user.name))
        try:
            pw = pwd.getpwnam(self.user.name)
        except KeyError:
            return []
        import grp

        return [grp.getgrgid(g).gr_name for g in os.getgrouplist(pw.pw_name, pw.pw_gid)]

    @default("apply_user_options")
    def _default_apply(self):
        # The options are validated (and applied) in start(); this only checks early, so a bad
        # REST request is refused with HTTP 400 before anything else happens.
        def check(spawner, user_options):
            spawner.validated_options()

        return check

    @default("options_form")
    def _default_form(self):
        def form(spawner):
            last = spawner.orm_spawner.user_options if spawner.orm_spawner else None
            return render_form(spawner._limits(), spawner._profiles(), spawner.user_groups(), last)

        return form

    def options_from_form(self, formdata):
        raw = form_data_to_raw(formdata)
        # Validate now so the form shows the message; start() validates again (REST API).
        validate_options(raw, self._limits(), self._profiles(), self.user_groups())
        return {k: v for k, v in raw.items() if v != ""}

    def validated_options(self) -> dict:
        """``user_options`` checked against the limits; HTTP 400 with the reason if not."""
        try:
            return validate_options(
                dict(self.user_options or {}), self._limits(), self._profiles(), self.user_groups()
            )
        except OptionsError as e:
            raise web.HTTPError(400, f"Server options refused: {e}", reason="Bad options") from e

    # ---- the batch script -------------------------------------------------------------

    def image_for(self, version: str) -> str:
        return self.image.replace("{version}", version)

    def server_command(self, opts: Mapping[str, object], env_names: list[str]) -> list[str]:
        """The words that start the server inside the job."""
        pw = pwd.getpwnam(self.user.name)
        home = pw.pw_dir
        prefix = runtime_prefix(
            self.runtime,
            self.image_for(str(opts["image"])),
            self.binds,
            [*env_names, *JOB_ENV_NAMES],
            home,
            user=f"{pw.pw_uid}:{pw.pw_gid}",
        )
        python = f"{self.env_prefix}/bin/python" if self.runtime == "none" else "python3"
        single = f"{self.env_prefix}/bin/{self.cmd[0]}" if self.runtime == "none" else self.cmd[0]
        low, high = self.port_range
        return [
            *prefix,
            python,
            "-m",
            "rarehub_hub.singleuser",
            "--ip",
            self.server_ip,
            "--port-range",
            f"{low}-{high}",
            "--",
            single,
            *self.cmd[1:],
            *self.get_args(),
        ]

    def render_script(self, opts: Mapping[str, object], env_names: list[str]) -> str:
        """The batch script, from validated ``opts`` only; every value shell-quoted."""
        q = shlex.quote
        home = pwd.getpwnam(self.user.name).pw_dir
        output = self.output_template.replace("{homedir}", home)
        lines = [
            "#!/bin/bash",
            f"#SBATCH --job-name={q(self.job_name)}",
            f"#SBATCH --output={q(output)}",
            f"#SBATCH --chdir={q(home)}",
            f"#SBATCH --export={q(','.join(env_names))}",
            f"#SBATCH --partition={q(str(opts['partition']))}",
            f"#SBATCH --time={format_walltime(int(opts['walltime_minutes']))}",
            f"#SBATCH --cpus-per-task={int(opts['cpus'])}",
            f"#SBATCH --mem={int(opts['memory_GiB'])}G",
        ]
        if int(opts["gpus"]):
            lines.append(f"#SBATCH --gres=gpu:{int(opts['gpus'])}")
        lines += ["", "set -euo pipefail", f"export HOME={q(home)}"]
        for name, value in sorted(self.job_environment.items()):
            lines.append(f"export {name}={q(str(value))}")
        # For the lab's walltime warning (rarehub_hub.walltime): the end of the walltime in
        # epoch seconds (Slurm's start time if it tells, else now: the script starts with the
        # job) and when to warn.
        walltime_s = int(opts["walltime_minutes"]) * 60
        warn = ",".join(f"{m:g}" for m in self.walltime_warnings_minutes)
        lines += [
            "export RAREHUB_JOB_END="
            f'"$(( ${{SLURM_JOB_START_TIME:-$(date +%s)}} + {walltime_s} ))"',
            f"export RAREHUB_WALLTIME_WARN_MINUTES={q(warn)}",
        ]
        lines.append(f'echo "rarehub: job $SLURM_JOB_ID on $(hostname -s), {opts["profile"]}"')
        command = self.server_command(opts, env_names)
        if self.runtime != "podman":
            # exec: the server is the batch step's own process, so Slurm's signals reach it
            # and it cannot outlive the job as an orphan (proctrack/linuxproc loses processes
            # whose parent died: a server slow to shut down would escape Slurm's SIGKILL).
            lines.append("exec " + shlex.join(command))
            return "\n".join(lines) + "\n"
        # conmon leaves the job's process tree, so Slurm's SIGTERM ends `podman run` but not
        # the container: stop it by its cidfile when the script ends (scancel, walltime).
        # A short --time: Slurm sends SIGKILL KillWait (default 30 s) after SIGTERM.
        cid = f"{home}/.rarehub-podman-{uuid.uuid4().hex}.cid"
        lines += [
            f"cid={q(cid)}",
            "trap 'exit 143' TERM INT",
            'trap \'podman stop --time 3 --cidfile "$cid" >/dev/null 2>&1 || true; '
            'podman rm --force --cidfile "$cid" >/dev/null 2>&1 || true; rm -f "$cid"\' EXIT',
            shlex.join([*command[:2], f"--cidfile={cid}", *command[2:]]) + " &",
            "wait $!",
        ]
        return "\n".join(lines) + "\n"

    # ---- Slurm state --------------------------------------------------------------------

    def _slurm_env(self) -> dict[str, str]:
        return {**os.environ, **self.slurm_environment}

    def batcher(self) -> SqueueBatcher:
        cmd = ("squeue", "-h", "-t", "all", "-n", self.job_name, "-o", SQUEUE_FORMAT)
        return SqueueBatcher.shared(cmd, self._slurm_env())

    async def job_info(
        self, fresh: bool = False, max_age_s: float | None = None
    ) -> JobInfo | str | None:
        """This job's :class:`JobInfo`, ``None`` if Slurm no longer has it, or the error text
        (a string) when ``squeue`` failed: then nobody knows, and nothing is concluded."""
        newer = time.monotonic() if fresh else self.submitted_at
        age = self.squeue_interval_s if max_age_s is None else max_age_s
        snap = await self.batcher().snapshot(age, newer_than=newer)
        if snap.jobs is None:
            return snap.error or "squeue failed"
        return snap.jobs.get(self.job_id)

    def output_tail(self, lines: int = 15) -> str:
        """The end of the job's output file, if the hub can read it."""
        if not self.job_id:
            return ""
        home = pwd.getpwnam(self.user.name).pw_dir
        path = Path(self.output_template.replace("{homedir}", home).replace("%j", self.job_id))
        try:
            text = path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _gone_message(self, info: JobInfo | None) -> str:
        what = f"ended {info.state}" if info else "is no longer known to Slurm"
        if info and info.reason and info.reason != "None":
            what += f" ({info.reason})"
        tail = self.output_tail()
        msg = f"Slurm job {self.job_id} {what} before the server started."
        return msg + (f" Job output:\n{tail}" if tail else "")

    async def _slurm(self, command: str, input: str | None = None) -> str:
        subvars = self.get_req_subvars()
        subvars["job_id"] = self.job_id
        prefix = self.exec_prefix.format(username=shlex.quote(self.user.name))
        env = {**self.get_env(), **self.slurm_environment}
        return await self.run_command(
            " ".join((prefix, command.format(**subvars))), input=input, env=env
        )

    # ---- lifecycle -----------------------------------------------------------------------

    async def start(self):
        opts = self.validated_options()
        self.ip = self.server_ip
        self._port_event = asyncio.Event()
        self.port = 0
        self.reported_ip = ""
        if self.server:
            self.server.port = 0
        env = self.get_env()
        env_names = sorted(env)
        script = self.render_script(opts, env_names)
        self.log.info("Submitting %s for %s: %s", self.job_name, self.user.name, opts)
        try:
            out = await self._slurm(self.batch_submit_cmd, input=script)
        except RuntimeError as e:
            raise RuntimeError(f"Slurm refused the job: {e}") from None
        self.job_id = self.parse_job_id(out)
        self.submitted_at = time.monotonic()
        self.progress_message = f"Slurm job {self.job_id} submitted"
        if self.orm_spawner is not None:  # a hub restart now finds (and can cancel) the job
            self.orm_spawner.state = self.get_state()
            session = object_session(self.orm_spawner)
            if session is not None:
                session.commit()

        info = None
        running_since = 0.0
        while True:
            if self.port and self.reported_ip:
                break  # the job itself reported where it serves
            info = await self.job_info(max_age_s=self.startup_poll_interval)
            if isinstance(info, str):
                self.progress_message = f"Slurm does not answer ({info}); waiting"
            elif info is None or info.state not in RUNNING_STATES | PENDING_STATES:
                message = self._gone_message(info)
                self.clear_state()
                raise RuntimeError(message)
            elif info.state in PENDING_STATES:
                self.progress_message = f"Slurm job {self.job_id} pending: {info.reason}"
            elif self.port:
                break
            else:
                if not running_since:
                    running_since = time.monotonic()
                    QUEUE_WAIT.observe(running_since - self.submitted_at)
                self.progress_message = (
                    f"Slurm job {self.job_id} running on {info.node}: starting JupyterLab"
                )
            await self._port_reported_within(self.startup_poll_interval)
        if not running_since:  # the job reported its port before squeue showed it running
            QUEUE_WAIT.observe(time.monotonic() - self.submitted_at)
        host = self.reported_ip or (info.node if isinstance(info, JobInfo) else "")
        self.ip = host
        await self._wait_http(host, self.port)
        self.log.info("Server job %s of %s at %s:%s", self.job_id, self.user.name, host, self.port)
        self.server_started = True  # saved with the state: this job is a server, not a spawn
        return host, self.port

    @observe("port")
    def _port_changed(self, change):
        if change["new"] and self._port_event is not None:
            self._port_event.set()

    async def _port_reported_within(self, timeout_s: float) -> None:
        """Sleep ``timeout_s``, or less: wake as soon as the job reports its port."""
        if self._port_event is None:
            self._port_event = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._port_event.wait(), timeout_s)

    async def _answers_http(self, url: str) -> bool:
        try:
            r = await AsyncHTTPClient().fetch(
                url,
                raise_error=False,
                follow_redirects=False,
                connect_timeout=2,
                request_timeout=10,
            )
        except Exception:  # refused, reset, not there yet
            return False
        return r.code < 500

    async def _wait_http(self, host: str, port: int) -> None:
        """Return once the server answers HTTP (any non-5xx, as JupyterHub's own check).

        JupyterHub checks too, after start() returns, but backs off exponentially (0.2, 0.4,
        0.8, 1.6, 3.2 s …): a server up after 3.1 s is seen at 6.2 s. Checking every
        :attr:`ready_check_interval_s` here makes its first check succeed. Fails early when
        the job ends meanwhile; after :attr:`http_timeout` JupyterHub's check takes over.
        """
        if self.internal_ssl:
            return  # JupyterHub's check knows the certificates
        base_url = self.server.base_url if self.server else "/"
        url = f"http://{'127.0.0.1' if host in ('', '0.0.0.0') else host}:{port}{base_url}"
        self.progress_message = f"Slurm job {self.job_id}: JupyterLab starting at {host}:{port}"
        deadline = time.monotonic() + self.http_timeout
        next_job_check = time.monotonic() + self.startup_poll_interval
        while time.monotonic() < deadline:
            if await self._answers_http(url):
                return
            if time.monotonic() >= next_job_check:
                next_job_check = time.monotonic() + self.startup_poll_interval
                info = await self.job_info(max_age_s=self.startup_poll_interval)
                alive = RUNNING_STATES | PENDING_STATES
                if info is None or (isinstance(info, JobInfo) and info.state not in alive):
                    message = self._gone_message(info)
                    self.clear_state()
                    raise RuntimeError(message)
            await asyncio.sleep(self.ready_check_interval_s)

    async def progress(self):
        sent = ""
        while True:
            if self.progress_message and self.progress_message != sent:
                sent = self.progress_message
                yield {"message": sent}
            await asyncio.sleep(0.5)

    async def poll(self):
        """None while the job runs, pends or Slurm cannot be asked; 1 once Slurm lost it."""
        if not self.job_id:
            return 0
        info = await self.job_info()
        if isinstance(info, str):
            self.log.warning("Cannot check job %s: %s; assuming it runs", self.job_id, info)
            return None
        if info is not None and info.state in RUNNING_STATES | PENDING_STATES:
            return None
        self.clear_state()
        return 1

    async def stop(self, now=False):
        if not self.job_id:
            return
        self.log.info("Cancelling job %s of %s", self.job_id, self.user.name)
        try:
            await self._slurm(self.batch_cancel_cmd)
        except RuntimeError as e:
            self.log.warning("scancel %s: %s", self.job_id, e)
        if now:
            return
        for _ in range(20):
            info = await self.job_info(fresh=True)
            if info is None or (
                not isinstance(info, str) and info.state not in RUNNING_STATES | PENDING_STATES
            ):
                return
            await asyncio.sleep(0.5)
        self.log.warning("Job %s may not have ended", self.job_id)

    def get_state(self):
        state = super().get_state()
        if self.job_id and self.server_started:
            state["started"] = True
        return state

    def load_state(self, state):
        super().load_state(state)
        self.server_started = bool(state.get("started"))

    def clear_state(self):
        super().clear_state()
        self.submitted_at = 0.0
        self.server_started = False
