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
from collections.abc import Sequence
from urllib.parse import urlparse

from batchspawner import SlurmSpawner
from jupyterhub.utils import url_path_join
from sqlalchemy.orm import object_session
from tornado.httpclient import AsyncHTTPClient
from traitlets import Bool, Float, List, TraitError, Unicode, observe, validate

from .options import sbatch_arguments
from .slurm_safety import (
    JOB_ID,
    TAIL_TIMEOUT_S,
    UnsafeFile,
    check_job_id,
    read_user_tail,
    split_command,
)
from .slurm_squeue import (
    INVALID_JOB,
    QUEUE_WAIT,
    REQUEUE_STATES,
    SQUEUE_FORMAT,
    JobInfo,
    SqueueBatcher,
    confirm_job,
    run_slurm,
)
from .unreachable import PATH as UNREACHABLE_PATH
from .unreachable import register as register_unreachable_page

register_unreachable_page()

#: A single Slurm node name as squeue prints it (a node list like ``n[1-2]`` is not one).
SLURM_NODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class SlurmJobLifecycle(SlurmSpawner):
    """Start, poll and stop one server's Slurm job (configuration: the subclass's traits)."""

    reported_ip = Unicode("", help="Set by the job: the address it bound ('' = node name).")
    _port_event: asyncio.Event | None = None  # set when the job reports its port
    progress_message = Unicode("")
    submitted_at = Float(0.0)
    ready_at = Float(0.0, help="When (monotonic s) start() found the server answering.")
    server_started = Bool(False, help="The job's server became ready (saved in the state).")
    job_start = Unicode(
        "", help="Slurm's start time of the job the hub routes to (saved): a requeue changes it."
    )
    unreachable_since = Float(0.0, help="When (epoch s) the running server stopped answering.")
    uncancelled_jobs = List(
        Unicode(),
        help="Jobs of this server whose cancel failed (saved in the state): cancelled again "
        "before the next start, and by rarehub-hub start's reconcile.",
    )

    # ---- Slurm state --------------------------------------------------------------------

    def _slurm_env(self) -> dict[str, str]:
        return {**os.environ, **self.slurm_environment}

    def batcher(self) -> SqueueBatcher:
        cmd = ("squeue", "-h", "-t", "all", "-n", self.job_name, "-o", SQUEUE_FORMAT)
        return SqueueBatcher.shared(cmd, self._slurm_env(), timeout_s=self.slurm_timeout_s)

    async def job_info(
        self, fresh: bool = False, max_age_s: float | None = None
    ) -> JobInfo | str | None:
        """This job's :class:`JobInfo`, ``None`` if Slurm no longer has it, or the error text
        (a string) when ``squeue`` failed: then nobody knows, and nothing is concluded."""
        # Never an answer from before the job was submitted — nor, once the server answers,
        # from before that: a snapshot that still showed it pending would look like a requeue.
        newer = time.monotonic() if fresh else max(self.submitted_at, self.ready_at)
        age = self.squeue_interval_s if max_age_s is None else max_age_s
        snap = await self.batcher().snapshot(age, newer_than=newer)
        if snap.jobs is None:
            return snap.error or "squeue failed"
        info = snap.jobs.get(self.job_id)
        if info is not None or not self.job_id:
            return info
        # Missing from an squeue that exited 0 — empty or garbled output, PrivateData, a
        # changed format — is silence, not an answer: ask about this job by id, as its user.
        confirmed = await confirm_job(
            self.confirm_argv(self.job_id),
            self.job_id,
            self._slurm_env(),
            timeout_s=self.slurm_timeout_s,
        )
        if isinstance(confirmed, str):
            self.log.warning(
                "Job %s missing from squeue (%d unreadable lines) and not confirmed: %s",
                self.job_id,
                snap.garbled,
                confirmed,
            )
        return confirmed

    def exec_prefix_words(self) -> list[str]:
        """``exec_prefix`` as argument words, ``{username}`` filled in (no shell)."""
        return [self.user.name if w == "{username}" else w for w in self._argv("exec_prefix")]

    def confirm_argv(self, job_id: str) -> list[str]:
        """``scontrol -o show job ID`` as the job's user (who always sees their own job)."""
        return [*self.exec_prefix_words(), "scontrol", "-o", "show", "job", check_job_id(job_id)]

    async def node_addresses(self) -> list[str]:
        """The job's node as Slurm reports it: its name, ``NodeAddr``, ``NodeHostName`` and
        the addresses they resolve to (plus 127.0.0.1 when the hub API is on loopback, where
        ``server_ip: auto`` binds loopback). Empty if Slurm does not say."""
        info = await self.job_info(fresh=True)
        node = info.node if isinstance(info, JobInfo) else ""
        if not node or not SLURM_NODE.fullmatch(node):
            return []
        names = [node]
        code, out, _ = await run_slurm(
            ["scontrol", "show", "node", "-o", node], self._slurm_env(), self.slurm_timeout_s
        )
        for word in (out if code == 0 else "").split():
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

    async def _slurm(
        self, command_trait: str, input: str | None = None, extra_args: Sequence[str] = ()
    ) -> str:
        """Run a Slurm command (no shell: an argument list, ``extra_args`` appended, each one
        argument); its output, or RuntimeError."""
        argv = [*self.slurm_argv(command_trait), *extra_args]
        env = {**self.get_env(), **self.slurm_environment}
        # no time limit: a submission killed half-way could leave a job nobody knows of
        code, out, err = await run_slurm(argv, env, None, input=input or "")
        if code != 0:
            self.log.error("%s exited %s: %s", shlex.join(argv), code, err)
            raise RuntimeError(err or f"{argv[0]} exited {code}")
        return out.strip()

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
        if self.uncancelled_jobs:
            await self._cancel_uncancelled()
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
            out = await self._slurm(
                "batch_submit_cmd", input=script, extra_args=sbatch_arguments(opts)
            )
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
            elif info is not None and info.kind == "unknown":
                self.progress_message = f"Slurm job {self.job_id} is {info.state}; waiting"
            elif info is None or info.kind == "finished":
                message = await self._gone_message(info)
                self.clear_state()
                raise RuntimeError(message)
            elif info.kind == "pending":
                self.progress_message = f"Slurm job {self.job_id} pending: {info.reason}"
                if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?", info.start):
                    # squeue's START_TIME of a pending job: the scheduler's estimate
                    # (what `squeue --start` lists), batchspawner #121
                    self.progress_message += f"; estimated start {info.start.replace('T', ' ')}"
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
        # The run the hub routes to; a pending snapshot's start is an estimate: poll() takes
        # the first running one.
        running = isinstance(info, JobInfo) and info.kind == "running"
        self.job_start = info.start if running else ""
        self.ip = host
        await self._wait_http(host, self.port)
        self.log.info("Server job %s of %s at %s:%s", self.job_id, self.user.name, host, self.port)
        self.server_started = True  # saved with the state: this job is a server, not a spawn
        self.ready_at = time.monotonic()
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
                if info is None or (isinstance(info, JobInfo) and info.kind == "finished"):
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
        """None while the job runs, pends, is in a state nobody knows, or Slurm cannot be
        asked; 1 once Slurm confirmed it ended (or the hub stopped a requeued job)."""
        if not self.job_id:
            return 0
        info = await self.job_info()
        if isinstance(info, str):
            self.log.warning("Cannot check job %s: %s; assuming it runs", self.job_id, info)
            return None
        if info is None or info.kind == "finished":
            what = f"ended {info.state}" if info else "is no longer known to Slurm"
            self.log.info("Job %s of %s %s", self.job_id, self.user.name, what)
            self.clear_state()
            return 1
        if info.kind == "unknown":
            self.log.warning(
                "Job %s is %s, a state RareHub does not know; assuming it runs",
                self.job_id,
                info.state,
            )
            return None
        if self.server_started and self._requeued(info):
            # The server the hub routes to is gone with the job's first run; a new run would
            # come up elsewhere, unknown to the proxy. Stop it cleanly rather than route to a
            # stale address.
            self.log.warning(
                "Job %s of %s was requeued (%s, start %s, was %s): its address %s:%s is stale; "
                "cancelling the job",
                self.job_id,
                self.user.name,
                info.state,
                info.start,
                self.job_start,
                self.ip,
                self.port,
            )
            job = self.job_id
            error = await self._cancel_job(job, time.monotonic() + self.stop_timeout_s)
            if error:
                self._remember_uncancelled(job, error)
            self.clear_state()
            return 1
        if self.server_started and info.kind == "running":
            await self._check_reachable(info)
        return None

    async def _answers_tcp(self, host: str, port: int, timeout_s: float) -> bool:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    async def _check_reachable(self, info: JobInfo) -> None:
        """Slurm runs the job: does its server accept a connection? If not, the user's route
        shows :mod:`~rarehub_hub.unreachable`'s page (at once, not a hung request) until it
        does again; the job and the hub's record are kept either way."""
        if self.reachability_timeout_s <= 0 or not self.port:
            return
        host = "127.0.0.1" if self.ip in ("", "0.0.0.0") else self.ip
        if await self._answers_tcp(host, self.port, self.reachability_timeout_s):
            if self.unreachable_since:
                self.log.info(
                    "Server of %s (job %s on %s) answers again after %.0f s; route restored",
                    self.user.name,
                    self.job_id,
                    info.node,
                    time.time() - self.unreachable_since,
                )
                self.unreachable_since = 0.0
                await self._route(to_notice=False)
            return
        if not self.unreachable_since:
            self.unreachable_since = time.time()
            self.log.warning(
                "Server of %s (job %s, Slurm: %s on %s) at %s:%s does not answer: users see "
                "the unreachable page until it does; the job is kept",
                self.user.name,
                self.job_id,
                info.state,
                info.node,
                host,
                self.port,
            )
        await self._route(to_notice=True)  # again each poll: check_routes may have reset it

    async def _route(self, to_notice: bool) -> None:
        settings = getattr(self.user, "settings", None) or {}
        proxy = settings.get("proxy")
        if proxy is None or self.server is None:
            return
        target = url_path_join(self.hub.url, UNREACHABLE_PATH) if to_notice else self.server.host
        try:
            await proxy.add_route(
                self.proxy_spec, target, {"user": self.user.name, "server_name": self.name}
            )
        except Exception as e:  # the proxy down too: the next poll tries again
            self.log.warning("Proxy route of %s not updated: %s", self.user.name, e)

    def _requeued(self, info: JobInfo) -> bool:
        """Whether the running server's job went back to the queue or started again."""
        if info.state in REQUEUE_STATES or info.state == "PENDING":
            return True
        if not self.job_start and info.kind == "running":
            self.job_start = info.start  # the first running answer since start()
            return False
        return bool(self.job_start) and info.start not in ("", self.job_start)

    def cancel_argv(self, job_id: str) -> list[str]:
        """:attr:`exec_prefix` and :attr:`batch_cancel_cmd` as words (no shell), with
        ``{job_id}`` and ``{username}`` filled in."""
        values = {"{job_id}": check_job_id(job_id), "{username}": self.user.name}
        words = self._argv("batch_cancel_cmd")
        return [*self.exec_prefix_words(), *(values.get(w, w) for w in words)]

    async def _scancel(self, job_id: str, timeout_s: float) -> None:
        """Cancel ``job_id``; RuntimeError with Slurm's message, TimeoutError if no answer."""
        code, _, err = await run_slurm(self.cancel_argv(job_id), self._slurm_env(), timeout_s)
        if code is None and "no answer" in err:
            raise TimeoutError(err)
        if code != 0:
            raise RuntimeError(err or f"scancel exited {code}")

    async def _cancel_job(self, job_id: str, deadline: float) -> str:
        """Cancel ``job_id``, retried (up to :attr:`cancel_attempts`) until ``deadline``
        (monotonic seconds). ``""`` once cancelled or unknown to Slurm, else the last error."""
        error = "no time left to cancel"
        delay_s = 0.5
        for attempt in range(1, self.cancel_attempts + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                await self._scancel(job_id, left)
                return ""
            except TimeoutError:
                return f"scancel {job_id} gave no answer in time"
            except RuntimeError as e:
                if INVALID_JOB in str(e):
                    return ""  # already gone: nothing to cancel
                error = str(e).strip() or "scancel failed"
                self.log.warning("scancel %s (attempt %d): %s", job_id, attempt, error)
            await asyncio.sleep(max(0.0, min(delay_s, deadline - time.monotonic())))
            delay_s *= 2
        return error

    def _remember_uncancelled(self, job_id: str, error: str) -> None:
        if job_id not in self.uncancelled_jobs:
            self.uncancelled_jobs = [*self.uncancelled_jobs, job_id]
        self.log.error(
            "Slurm job %s of %s could not be cancelled (%s): kept in the hub's state, "
            "cancelled again before the next start and by the next hub start",
            job_id,
            self.user.name,
            error,
        )

    async def _cancel_uncancelled(self) -> None:
        """Before a start: cancel the jobs an earlier stop could not (best effort)."""
        left = []
        for job in self.uncancelled_jobs:
            if await self._cancel_job(job, time.monotonic() + min(10.0, self.stop_timeout_s)):
                left.append(job)
            else:
                self.log.info("Cancelled job %s of %s left by an earlier stop", job, self.user.name)
        self.uncancelled_jobs = left

    async def stop(self, now=False):
        """Cancel the job (retried), then wait until Slurm has ended it; never longer than
        :attr:`stop_timeout_s` in all. A job that cannot be cancelled is kept in the state
        and the stop fails with the reason (the user and the admin see it)."""
        if not self.job_id:
            return
        deadline = time.monotonic() + self.stop_timeout_s
        job = self.job_id
        self.log.info("Cancelling job %s of %s", job, self.user.name)
        error = await self._cancel_job(job, deadline)
        if error:
            self._remember_uncancelled(job, error)
            raise RuntimeError(
                f"Slurm did not cancel job {job}: {error}. The hub keeps the job and cancels "
                "it again before your next start; ask your admin if it keeps running."
            )
        if now:
            return
        while (left := deadline - time.monotonic()) > 0:
            try:
                info = await asyncio.wait_for(self.job_info(fresh=True), left)
            except TimeoutError:
                break
            if info is None or (isinstance(info, JobInfo) and info.kind == "finished"):
                return
            await asyncio.sleep(max(0.0, min(0.5, deadline - time.monotonic())))
        self.log.warning(
            "Job %s of %s may not have ended within %s s", job, self.user.name, self.stop_timeout_s
        )

    def get_state(self):
        state = super().get_state()
        if self.job_id and self.server_started:
            state["started"] = True
            if self.job_start:
                state["job_start"] = self.job_start
        if self.uncancelled_jobs:
            state["uncancelled"] = list(self.uncancelled_jobs)
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
        self.job_start = str(state.get("job_start", ""))
        self.uncancelled_jobs = [
            str(j) for j in state.get("uncancelled", []) if JOB_ID.fullmatch(str(j))
        ]

    def clear_state(self):
        """Forget the job (JupyterHub calls this after every stop); jobs whose cancel failed
        are kept (:attr:`uncancelled_jobs`)."""
        super().clear_state()
        self.submitted_at = 0.0
        self.ready_at = 0.0
        self.server_started = False
        self.job_start = ""
        self.unreachable_since = 0.0
