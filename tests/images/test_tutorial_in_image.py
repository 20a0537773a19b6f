"""Batch use of the image: demo data with the `rarehub` command, then tutorial 1 headless.

The same commands users run on a cluster (``apptainer exec rarehub.sif …``), here locked
down with podman: arbitrary UID, read-only root, bound HOME.
"""

from __future__ import annotations

import json
import re

from rarehub_image import CONTAINER_HOME, IMAGE_TUTORIALS, locked_down, podman, run_in_image

DATA = "/tmp/data"
WELCOME = f"{IMAGE_TUTORIALS}/00-welcome.ipynb"
# Generate the demo data, then execute tutorial 1 into the bound HOME.
DEMO_THEN_TUTORIAL = (
    f"rarehub demo --size tiny --out {DATA} && "
    f"jupyter nbconvert --to notebook --execute {WELCOME} --output-dir {CONTAINER_HOME}/executed"
)


def test_tutorial_1_runs_headless(rarehub_image, bound_home):
    out = run_in_image(
        rarehub_image,
        bound_home,
        "bash",
        "-c",
        DEMO_THEN_TUTORIAL,
        env={"RAREHUB_DATA": DATA},
        timeout=600,
    )
    # nbconvert's own messages only: no warning or error from the kernel or the libraries.
    noise = [
        line
        for line in out.stderr.splitlines()
        if not re.match(r"\[NbConvertApp\] (Making directory|Converting notebook|Writing)", line)
    ]
    assert noise == []

    notebook = json.loads((bound_home / "executed" / "00-welcome.ipynb").read_text())
    outputs = [o for cell in notebook["cells"] for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    printed = "".join("".join(o["text"]) for o in outputs if o["output_type"] == "stream")
    assert f"data in {DATA}" in printed
    # The last cell shows the beam-on/beam-off spectrum as a HoloViews (Bokeh) plot.
    last = [c for c in notebook["cells"] if c["cell_type"] == "code"][-1]
    mime = {m for o in last["outputs"] for m in o.get("data", {})}
    assert "application/vnd.holoviews_exec.v0+json" in mime


def test_nothing_is_written_outside_home_and_tmp(rarehub_image, bound_home):
    # Without --read-only (so that no write can fail silently), then ask podman which paths
    # of the container's file system changed.
    name = f"rarehub-writes-{bound_home.parent.name}"[:60]
    podman(
        "run",
        f"--name={name}",
        "--env=RAREHUB_DATA=" + DATA,
        *locked_down(bound_home, read_only=False),
        rarehub_image,
        "bash",
        "-c",
        DEMO_THEN_TUTORIAL,
        timeout=600,
    )
    try:
        changes = podman("diff", name).stdout.split("\n")
    finally:
        podman("rm", "--force", name, check=False)
    # podman itself adds the arbitrary UID to /etc/passwd and /etc/group, and creates the
    # mount point of the bound HOME; everything else must be under /tmp.
    allowed = {
        "C /etc",
        "C /etc/passwd",
        "C /etc/group",
        "C /home",
        f"A {CONTAINER_HOME}",
        "C /tmp",
    }
    outside = [c for c in changes if c and c not in allowed and not c[2:].startswith("/tmp/")]
    assert outside == []
    assert f"A {DATA}/coherent/csi_events.parquet" in changes
    assert (bound_home / "executed" / "00-welcome.ipynb").exists()
