"""The walltime warning's parts: the endpoint's answer, the job script's exports, the config.

The endpoint on a real Jupyter server is in tests/integration/hub/test_walltime_endpoint.py,
the warning in JupyterLab on a real Slurm job in tests/browser/test_walltime_warning.py.
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
from traitlets import TraitError

from rarehub_hub import singleuser
from rarehub_hub.site import SiteError, validate_site
from rarehub_hub.slurm_spawner import RareHubSlurmSpawner
from rarehub_hub.walltime import (
    WalltimeError,
    job_walltime,
    parse_squeue_end,
    parse_warn_minutes,
    slurm_client_configured,
)

NOW = 1_800_000_000.0


def test_no_slurm_job_means_nothing_to_warn_about():
    info = job_walltime({"RAREHUB_JOB_END": str(int(NOW) + 60)}, NOW)
    assert info["job_id"] is None
    assert info["remaining_s"] is None
    assert job_walltime({}, NOW)["warn_minutes"] == []


def test_remaining_time_comes_from_the_job_environment():
    env = {
        "SLURM_JOB_ID": "42",
        "RAREHUB_JOB_END": str(int(NOW) + 125),
        "RAREHUB_WALLTIME_WARN_MINUTES": "2,10",
    }
    info = job_walltime(env, NOW)
    assert info == {
        "job_id": "42",
        "remaining_s": 125.0,
        "end_epoch_s": NOW + 125,
        "warn_minutes": [10.0, 2.0],
        "source": "environment",
    }


def test_slurm_answer_wins_over_the_environment_and_falls_back_when_absent():
    env = {"SLURM_JOB_ID": "42", "RAREHUB_JOB_END": str(int(NOW) + 125)}
    asked = []

    def slurm(job_id):
        asked.append(job_id)
        return NOW + 600  # an admin extended the time limit

    info = job_walltime(env, NOW, slurm)
    assert asked == ["42"]
    assert (info["remaining_s"], info["source"]) == (600.0, "squeue")
    info = job_walltime(env, NOW, lambda job_id: None)
    assert (info["remaining_s"], info["source"]) == (125.0, "environment")


def test_a_job_without_a_known_end_has_no_warning():
    info = job_walltime({"SLURM_JOB_ID": "42", "RAREHUB_WALLTIME_WARN_MINUTES": "5"}, NOW)
    assert info["job_id"] == "42"
    assert info["remaining_s"] is None


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"RAREHUB_JOB_END": "tomorrow"}, ["RAREHUB_JOB_END", "'tomorrow'"]),
        ({"RAREHUB_JOB_END": "1.5e9"}, ["RAREHUB_JOB_END", "'1.5e9'"]),
        ({"RAREHUB_WALLTIME_WARN_MINUTES": "10,abc"}, ["RAREHUB_WALLTIME_WARN_MINUTES", "'abc'"]),
        ({"RAREHUB_WALLTIME_WARN_MINUTES": "-1"}, ["RAREHUB_WALLTIME_WARN_MINUTES", "'-1'"]),
        ({"RAREHUB_WALLTIME_WARN_MINUTES": "0"}, ["RAREHUB_WALLTIME_WARN_MINUTES", "'0'"]),
        ({"RAREHUB_WALLTIME_WARN_MINUTES": "nan"}, ["RAREHUB_WALLTIME_WARN_MINUTES", "'nan'"]),
    ],
)
def test_malformed_variables_are_named_with_their_value(env, names):
    with pytest.raises(WalltimeError) as err:
        job_walltime({"SLURM_JOB_ID": "42", **env}, NOW)
    for name in names:
        assert name in str(err.value)


def test_squeue_is_asked_only_where_the_slurm_client_has_a_configuration(tmp_path):
    conf = tmp_path / "slurm.conf"
    conf.write_text("ClusterName=x\n")
    assert slurm_client_configured({"SLURM_CONF": str(conf)})
    # Without a file squeue would look the controller up in DNS: not asked.
    assert not slurm_client_configured({"SLURM_CONF": str(tmp_path / "missing.conf")})


def test_warn_minutes_are_deduplicated_largest_first():
    assert parse_warn_minutes(" 2, 10,2,0.5 ,") == [10.0, 2.0, 0.5]
    assert parse_warn_minutes("") == []


def test_squeue_end_is_local_time_or_nothing():
    local = datetime(2026, 11, 26, 1, 23, 45).timestamp()
    assert parse_squeue_end("2026-11-26T01:23:45\n") == local
    for text in ("N/A", "Unknown", "", "garbage"):
        assert parse_squeue_end(text) is None


def spawner(**config) -> RareHubSlurmSpawner:
    sp = RareHubSlurmSpawner(**config)
    sp.user = type("U", (), {"name": getpass.getuser()})()  # a unix user that exists here
    return sp


def test_job_script_exports_the_end_and_thresholds_and_bash_computes_the_end():
    sp = spawner(walltime_warnings_minutes=[2, 10.5, 2], limits={"walltime_minutes": [1, 60]})
    sp.user_options = {"walltime": "0:03"}
    script = sp.render_script(sp.validated_options(), ["PATH"])
    exports = [line for line in script.splitlines() if "RAREHUB_" in line]
    assert "export RAREHUB_WALLTIME_WARN_MINUTES=10.5,2" in exports
    # The exports as the job runs them: Slurm's start time if it gives one, else now.
    code = "\n".join([*exports, 'echo "$RAREHUB_JOB_END"'])
    env = {"PATH": os.environ["PATH"], "SLURM_JOB_START_TIME": "1800000000"}
    out = subprocess.run(["bash", "-euc", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == str(1_800_000_000 + 180), out.stderr
    env.pop("SLURM_JOB_START_TIME")
    out = subprocess.run(["bash", "-euc", code], env=env, capture_output=True, text=True)
    assert abs(int(out.stdout) - (time.time() + 180)) < 5, out.stderr


def test_podman_passes_the_walltime_variables_into_the_container():
    sp = spawner(runtime="podman", image="img:{version}")
    words = sp.server_command(sp.validated_options(), ["JUPYTERHUB_API_TOKEN"])
    passed = [words[i + 1] for i, w in enumerate(words) if w == "--env"]
    for name in ("SLURM_JOB_ID", "RAREHUB_JOB_END", "RAREHUB_WALLTIME_WARN_MINUTES"):
        assert name in passed


def test_thresholds_must_be_positive():
    with pytest.raises(TraitError, match="walltime_warnings_minutes: 0"):
        RareHubSlurmSpawner(walltime_warnings_minutes=[10, 0])


def test_site_yaml_sets_thresholds_and_the_schema_refuses_bad_ones(tmp_path):
    auth = {"type": "pam", "allow_all": True}
    base = {"deployment": "slurm", "state_dir": str(tmp_path), "auth": auth}
    site = validate_site(base)
    assert site["slurm"]["walltime_warnings_minutes"] == [10, 2]
    site = validate_site({**base, "slurm": {"walltime_warnings_minutes": [1.5, 0.5]}})
    assert site["slurm"]["walltime_warnings_minutes"] == [1.5, 0.5]
    for bad in ([0], [-5], ["10"], [5, 5], 10):
        with pytest.raises(SiteError, match=r"slurm\.walltime_warnings_minutes"):
            validate_site({**base, "slurm": {"walltime_warnings_minutes": bad}})


def test_launcher_puts_the_extensions_first_on_the_jupyter_paths():
    env = {"JUPYTER_PATH": "/site/share/jupyter"}
    singleuser.enable_walltime_warning(env)
    data = Path(env["JUPYTER_PATH"].split(os.pathsep)[0])
    assert env["JUPYTER_PATH"].split(os.pathsep)[1:] == ["/site/share/jupyter"]
    config = Path(env["JUPYTER_CONFIG_PATH"])
    enabled = json.loads(
        (config / "jupyter_server_config.d" / "rarehub-walltime.json").read_text()
    )["ServerApp"]["jpserver_extensions"]
    assert enabled == {"rarehub_hub.walltime": True}
    package = data / "labextensions" / "rarehub-walltime-warning"
    meta = json.loads((package / "package.json").read_text())
    assert meta["name"] == "rarehub-walltime-warning"
    assert (package / meta["jupyterlab"]["_build"]["load"]).is_file()
