"""The life of a server's Slurm job: submit, wait for its report, watch, cancel, remember.

:class:`SlurmJobLifecycle` is the base of :class:`~rarehub_hub.slurm_spawner.RareHubSlurmSpawner`
(which holds the configuration traits this code reads): ``start`` submits the rendered job
script and waits until the job's server reported its address and answers HTTP; ``poll`` and
the pending page read the shared ``squeue`` (:mod:`rarehub_hub.slurm_squeue`); ``stop``
cancels the job, queued or running; the job id is saved in the hub's database at submit time,
so a restarted hub re-attaches running jobs and can cancel queued ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import re
import shlex
import time
from urllib.parse import urlparse

from batchspawner import SlurmSpawner
from sqlalchemy.orm import object_session
from tornado.httpclient import AsyncHTTPClient
from traitlets import Bool, Float, TraitError, Unicode, observe, validate

from .slurm_safety import (
    JOB_ID,
    TAIL_TIMEOUT_S,
    UnsafeFile,
    check_job_id,
    read_user_tail,
    split_command,
)
from .slurm_squeue import (
    PENDING_STATES,
    QUEUE_WAIT,
    RUNNING_STATES,
    SQUEUE_FORMAT,
    JobInfo,
    SqueueBatcher,
)

#: A single Slurm node name as squeue prints it (a node list like ``n[1-2]`` is not one).
SLURM_NODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class SlurmJobLifecycle(SlurmSpawner):
    """Start, poll and stop one server's Slurm job (configuration: the subclass's traits)."""

    reported_ip = Unicode("", help="Set by the job: the address it bound ('' = node name).")
    _port_event: asyncio.Event | None = None  # set when the job reports its port
    progress_message = Unicode("")
    submitted_at = Float(0.0)
    server_started = Bool(False, help="The job's server became ready (saved in the state).")

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

    async def node_addresses(self) -> list[str]:
        """The job's node as Slurm reports it: its name, ``NodeAddr``, ``NodeHostName`` and
        the addresses they resolve to (plus 127.0.0.1 when the hub API is on loopback, where
        ``server_ip: auto`` binds loopback). Empty if Slurm does not say."""
        info = await self.job_info(fresh=True)
        node = info.node if isinstance(info, JobInfo) else ""
        if not node or not SLURM_NODE.fullmatch(node):
            return []
        names = [node]
        try:
            proc = await asyncio.create_subprocess_exec(
                "scontrol",
                "show",
                "node",
                "-o",
                node,
                env=self._slurm_env(),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
            out, _ = await asyncio.wait_for(proc.communicate(), 10)
        except (OSError, TimeoutError):
            out = b""
        for word in out.decode(errors="replace").split():
            key, _, value = word.partition("=")
            if key in ("NodeAddr", "NodeHostName") and value and value not in names:
                names.append(value)
        addresses = list(names)
        for name in names:
            try:
                infos = await asyncio.wait_for(
                    asyncio.get_running_loop().getaddrinfo(name, None), 5
                )
            except (OSError, TimeoutError):
                continue
            for *_, sockaddr in infos:
                if sockaddr[0] not in addresses:
                    addresses.append(sockaddr[0])
        hub_api = urlparse(self.hub.api_url).hostname if self.hub else ""
        if hub_api in ("127.0.0.1", "localhost", "::1") and "127.0.0.1" not in addresses:
            addresses.append("127.0.0.1")
        return addresses

    async def output_tail(self, lines: int = 15) -> str:
        """The end of the job's output file, read safely (:func:`read_user_tail`): a file the
        user owns, never through a link, at most :data:`TAIL_MAX_BYTES`, off the event loop,
        given up after :data:`TAIL_TIMEOUT_S`. Anything else: no content and a log line."""
        if not self.job_id:
            return ""
        try:
            pw = pwd.getpwnam(self.user.name)
        except KeyError:
            return ""
        rel = self.output_template.replace("%j", self.job_id)
        try:
            text = await asyncio.wait_for(
                asyncio.to_thread(read_user_tail, pw.pw_dir, rel, pw.pw_uid), TAIL_TIMEOUT_S
            )
        except TimeoutError:
            self.log.warning(
                "Job output of %s not read: no answer in %s s", self.job_id, TAIL_TIMEOUT_S
            )
            return ""
        except UnsafeFile as e:
            self.log.warning(
                "AUDIT job output of %s (%s) not shown: %s", self.job_id, self.user.name, e
            )
            return ""
        except OSError:
            return ""  # not written (yet), or gone
        return "\n".join(text.splitlines()[-lines:])

    async def _gone_message(self, info: JobInfo | None) -> str:
        what = f"ended {info.state}" if info else "is no longer known to Slurm"
        if info and info.reason and info.reason != "None":
            what += f" ({info.reason})"
        tail = await self.output_tail()
        msg = f"Slurm job {self.job_id} {what} before the server started."
        return msg + (f" Job output:\n{tail}" if tail else "")

    def _argv(self, trait: str) -> list[str]:
        """``exec_prefix``/``batch_submit_cmd``/``batch_cancel_cmd`` as words, split once."""
        cache = self.__dict__.setdefault("_rarehub_argv", {})
        if trait not in cache:
            cache[trait] = split_command(getattr(self, trait), trait)
        return cache[trait]

    def slurm_argv(self, command_trait: str) -> list[str]:
        """The argument list of a Slurm command: ``exec_prefix`` then the command, with
        ``{username}`` and ``{job_id}`` (validated) each one whole word."""
        values = {"{username}": self.user.name, "{job_id}": self.job_id}
        words = [*self._argv("exec_prefix"), *self._argv(command_trait)]
        if "{job_id}" in words:
            check_job_id(self.job_id)
        return [values.get(w, w) for w in words]

    async def _slurm(self, command_trait: str, input: str | None = None) -> str:
        """Run a Slurm command (no shell: an argument list); its output, or RuntimeError."""
        argv = self.slurm_argv(command_trait)
        env = {**self.get_env(), **self.slurm_environment}
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate(input.encode() if input else None)
        if proc.returncode != 0:
            text = err.decode(errors="replace").strip()
            self.log.error("%s exited %s: %s", shlex.join(argv), proc.returncode, text)
            raise RuntimeError(text or f"{argv[0]} exited {proc.returncode}")
        return out.decode(errors="replace").strip()

    async def run_command(self, cmd, input=None, env=None):
        """batchspawner's shell runner: never used here (every command is an argument list)."""
        raise RuntimeError(
            "RareHubSlurmSpawner runs Slurm commands as argument lists, never as shell "
            f"strings; refused: {cmd!r}"
        )

    def parse_job_id(self, output: str) -> str:
        """The job id ``sbatch --parsable`` printed (``ID`` or ``ID;CLUSTER``), validated."""
        lines = output.strip().splitlines()
        return check_job_id(lines[-1].split(";")[0].strip() if lines else "")

    @validate("job_id")
    def _check_job_id(self, proposal):
        value = proposal["value"]
        if value:
            try:
                check_job_id(value)
            except ValueError as e:
                raise TraitError(str(e)) from None
        return value

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
            out = await self._slurm("batch_submit_cmd", input=script)
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
                message = await self._gone_message(info)
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
                    message = await self._gone_message(info)
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
            await self._slurm("batch_cancel_cmd")
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
        job = state.get("job_id", "")
        if job and not JOB_ID.fullmatch(str(job)):
            self.log.warning(
                "AUDIT ignored saved job id %r of %s: not a Slurm job id", job, self.user.name
            )
            state = {k: v for k, v in state.items() if k not in ("job_id", "started")}
        super().load_state(state)
        self.server_started = bool(state.get("started"))

    def clear_state(self):
        super().clear_state()
        self.submitted_at = 0.0
        self.server_started = False
