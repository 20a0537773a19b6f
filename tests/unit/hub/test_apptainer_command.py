"""The Apptainer command line the spawner renders, checked against the parsed definition.

No Apptainer runtime can be installed here; the definition (images/rarehub.def) is parsed with
spython and the spawner's command must run what the image provides, by the image's PATH.
"""

from __future__ import annotations

import getpass
import shlex
from pathlib import Path
from types import SimpleNamespace

import pytest
from spython.main.parse.parsers import SingularityParser

from rarehub_hub.slurm_spawner import RareHubSlurmSpawner

IMAGES = Path(__file__).parents[3] / "images"


class DefinitionParser(SingularityParser):
    """spython's section parser; it refuses non-docker agents, so record the agent instead."""

    bootstrap: str | None = None

    def _check_bootstrap(self, line):
        self.bootstrap = line.split(":", 1)[1].strip()


@pytest.fixture(scope="module")
def layer():
    definition = IMAGES / "rarehub.def"
    if not definition.exists():
        pytest.skip("images/rarehub.def not there yet")
    (layer,) = DefinitionParser(str(definition)).recipe.values()
    return layer


def test_apptainer_job_runs_the_images_python_and_server(layer):
    user = SimpleNamespace(name=getpass.getuser(), url="/user/x/", base_url="/")
    sp = RareHubSlurmSpawner(
        user=user,
        runtime="apptainer",
        image="/images/rarehub-{version}.sif",
        binds=[{"source": "/data"}],
        limits={"images": ["1.0"]},
    )
    sp.user_options = {}
    script = sp.render_script(
        sp.validated_options(), ["PATH", "PYTHONPATH", "JUPYTERHUB_API_TOKEN"]
    )
    exec_, *words = shlex.split(script.splitlines()[-1])
    assert exec_ == "exec"
    image_at = words.index("/images/rarehub-1.0.sif")
    assert words[:3] == ["apptainer", "exec", "--containall"]  # no host /tmp, env or PIDs
    assert "/data:/data:ro" in words[:image_at]
    # The environment goes in by name only; the hub's search paths never reach the image.
    assert 'export APPTAINERENV_JUPYTERHUB_API_TOKEN="$JUPYTERHUB_API_TOKEN"' in script
    assert 'export APPTAINERENV_SLURM_JOB_ID="$SLURM_JOB_ID"' in script
    assert "APPTAINERENV_PATH" not in script
    assert "APPTAINERENV_PYTHONPATH" not in script
    inside = words[image_at + 1 :]
    # Bare names: resolved by the image's PATH, never the hub's environment.
    assert inside[:3] == ["python3", "-m", "rarehub_hub.singleuser"]
    assert inside[inside.index("--") + 1] == "jupyterhub-singleuser"
    environ = dict(line.split("=", 1) for line in layer.environ)
    venv_bin = environ["PATH"].split(":")[0]
    assert venv_bin == "/opt/rarehub/venv/bin"
    # The image installs the wheel that carries rarehub_hub (the job-side wrapper) and
    # jupyterhub/batchspawner (the server extension the wrapper hands over to).
    dockerfile = (IMAGES / "Dockerfile").read_text()
    assert "COPY hub/rarehub_hub" in dockerfile
    test_script = "\n".join(line for line in layer.install if "/tests.sh" in line)
    assert "batchspawner" in test_script
