"""``RareHubSlurmSpawner``: batchspawner's SlurmSpawner, hardened for what HPC users asked for.

On top of :class:`batchspawner.SlurmSpawner`:

- the batch script is rendered only from values that :func:`~rarehub_hub.options.validate_options`
  accepted (profiles + free values within admin limits), each shell-quoted;
- the server runs inside the RareHub image through a container-runtime prefix
  (``apptainer``, ``podman``) or from a shared environment (``none``);
- the server binds :attr:`server_ip` and a port from :attr:`port_range` (batchspawner binds
  0.0.0.0 and any port), and the hub routes to the address the job reports;
- one ``squeue`` per :attr:`squeue_interval_s` answers every spawner of the hub
  (:class:`~rarehub_hub.slurm_squeue.SqueueBatcher`, batchspawner #292); a failed ``squeue``
  is "unknown", never "job gone" (#315, #171, #134); a restarted hub re-attaches running jobs;
- the pending page shows Slurm's pending reason, the scheduler's refusal and the tail of the
  job's output when it dies (#308, #253); stopping a pending spawn cancels the job (#193).

One file per part: this one holds the configuration (traits, the resource form and options);
:mod:`rarehub_hub.slurm_lifecycle` starts, watches and stops the job;
:mod:`rarehub_hub.slurm_script` renders its batch script; :mod:`rarehub_hub.slurm_squeue` is
the shared ``squeue``.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Mapping

from tornado import web
from traitlets import (
    Any,
    CaselessStrEnum,
    Dict,
    Float,
    Integer,
    List,
    TraitError,
    Tuple,
    Unicode,
    default,
    validate,
)

from . import slurm_script
from .options import (
    Limits,
    OptionsError,
    Profile,
    form_data_to_raw,
    render_form,
    validate_options,
)
from .slurm_api import install as _install_report_handler
from .slurm_lifecycle import SlurmJobLifecycle, split_command
from .slurm_script import JOB_ENV_NAMES
from .slurm_site_info import offered_choices, partition_availability

# batchspawner's /hub/api/batchspawner handler sets any attribute a user's token names (#14).
_install_report_handler()


class RareHubSlurmSpawner(SlurmJobLifecycle):
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
        "auto",
        help="Address the server binds inside the job. 'auto': the node's address on the "
        "network that reaches the hub API (127.0.0.1 when the hub API is on loopback); "
        "'0.0.0.0' binds all and the hub routes to the node's name; a concrete address is "
        "also the one the hub connects to.",
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

    slurm_timeout_s = Float(
        30.0,
        help="Seconds the hub waits for one squeue or scontrol answer before calling the "
        "job's state unknown (the call is killed).",
    ).tag(config=True)

    stop_timeout_s = Float(
        30.0,
        help="Seconds a stop may take in all: cancelling the job (retried) and waiting for "
        "Slurm to end it. A job that could not be cancelled in time is kept in the state.",
    ).tag(config=True)

    reachability_timeout_s = Float(
        2.0,
        help="Seconds each poll waits for a running server to accept a TCP connection; if it "
        "does not, the user's route shows an 'unreachable' page (HTTP 503) until it does "
        "again, and the job is kept. 0: no check.",
    ).tag(config=True)

    cancel_attempts = Integer(
        3, help="How often the hub tries scancel (0.5 s, 1 s … apart) before reporting it."
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

    user_groups_func = Any(
        None, help="Callable(username) → group names; default: the unix groups."
    ).tag(config=True)

    @validate("exec_prefix", "batch_submit_cmd", "batch_cancel_cmd")
    def _check_command(self, proposal):
        # Split here, at configuration time: a prefix or command that is not a clean list of
        # words (placeholders as whole words) is refused before any spawn.
        try:
            split_command(proposal["value"], proposal["trait"].name)
        except ValueError as e:
            raise TraitError(str(e)) from None
        self.__dict__.pop("_rarehub_argv", None)
        return proposal["value"]

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

    @validate("stop_timeout_s", "slurm_timeout_s")
    def _check_timeouts(self, proposal):
        if not 0 < proposal["value"] <= 600:
            raise TraitError(f"{proposal['trait'].name}: {proposal['value']} s is not in (0, 600]")
        return proposal["value"]

    @validate("cancel_attempts")
    def _check_attempts(self, proposal):
        if proposal["value"] < 1:
            raise TraitError(f"cancel_attempts: {proposal['value']}: need at least 1")
        return proposal["value"]

    @validate("port_range")
    def _check_range(self, proposal):
        low, high = proposal["value"]
        if (low, high) != (0, 0) and not 1024 <= low <= high <= 65535:
            raise ValueError(f"port_range {low}-{high}: need 1024 ≤ low ≤ high ≤ 65535")
        return proposal["value"]

    # ---- form and options -------------------------------------------------------------

    def _limits(self) -> Limits:
        d = dict(self.limits)
        for key in ("partitions", "images", "accounts", "qos", "reservations"):
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
        async def form(spawner):
            last = spawner.orm_spawner.user_options if spawner.orm_spawner else None
            limits = spawner._limits()
            env = spawner._slurm_env()
            availability = await partition_availability(env)
            offered = await offered_choices(
                spawner.user.name,
                {"account": limits.accounts, "qos": limits.qos, "reservation": limits.reservations},
                env,
            )
            html = render_form(
                limits, spawner._profiles(), spawner.user_groups(), last, availability, offered
            )
            return spawner.uncancelled_notice() + html

        return form

    def uncancelled_notice(self) -> str:
        """HTML telling the user that Slurm jobs of theirs could not be cancelled ('' if none):
        JupyterHub drops a failed stop's error, so the form says it on the next visit."""
        if not self.uncancelled_jobs:
            return ""
        jobs = ", ".join(j for j in self.uncancelled_jobs if j.isdigit())
        return (
            '<div class="alert alert-warning" role="alert" id="rh-uncancelled">'
            f"Slurm could not cancel your earlier server's job {jobs}. It may still run and "
            "count against your allocation; the hub cancels it again when you start, and when "
            "the hub restarts. If it stays, ask your admin (<code>scancel</code>).</div>\n"
        )

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

    # ---- the batch script (rarehub_hub.slurm_script) --------------------------------------

    def image_for(self, version: str) -> str:
        return self.image.replace("{version}", version)

    def server_command(self, opts: Mapping[str, object], env_names: list[str]) -> list[str]:
        """The words that start the server inside the job."""
        pw = pwd.getpwnam(self.user.name)
        return slurm_script.server_command(
            runtime=self.runtime,
            image=self.image_for(str(opts["image"])),
            binds=self.binds,
            env_names=[*env_names, *JOB_ENV_NAMES],
            home=pw.pw_dir,
            user=f"{pw.pw_uid}:{pw.pw_gid}",
            env_prefix=self.env_prefix,
            cmd=self.cmd,
            args=self.get_args(),
            server_ip=self.server_ip,
            port_range=self.port_range,
        )

    def render_script(self, opts: Mapping[str, object], env_names: list[str]) -> str:
        """The batch script, from validated ``opts`` only; every value shell-quoted."""
        home = pwd.getpwnam(self.user.name).pw_dir
        return slurm_script.render_script(
            opts,
            job_name=self.job_name,
            output=self.output_template.replace("{homedir}", home),
            home=home,
            env_names=env_names,
            job_environment=self.job_environment,
            walltime_warnings_minutes=self.walltime_warnings_minutes,
            runtime=self.runtime,
            command=self.server_command(opts, env_names),
            image=self.image_for(str(opts["image"])),
        )
