"""``rarehub release verify --in-image``: the pipeline and the notebook of a frozen release
re-run inside the RareHub image (podman, arbitrary UID, read-only root and bundle, no
network), and a changed number is named.

The pipeline prints where it ran: the arbitrary UID given to podman and the image's own
``RAREHUB_TUTORIALS`` variable (removed from the verifier's environment here) prove that the
re-run happened in the image.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from rarehub_image import (
    ARBITRARY_UID,
    CONTAINER_HOME,
    IMAGE_TUTORIALS,
    locked_down,
    podman,
    podman_env,
)

from analysis_lib.release import ReleaseSpec, freeze
from analysis_lib.release.bundle import MANIFEST, MANIFEST_DIGEST, sha256_file
from rarehub_testing import REPO

pytestmark = pytest.mark.timeout(300)

#: What the pipeline prints when it runs in the image as the arbitrary UID.
IN_IMAGE = f"uid={ARBITRARY_UID} tutorials={IMAGE_TUTORIALS}"

PIPELINE = '''\
"""Make summary.parquet from data/events.csv; print where it ran."""
import hashlib, json, os, sys
from pathlib import Path
import pandas as pd

bundle, out = Path(sys.argv[1]), Path(sys.argv[2])
energy_keV = pd.read_csv(bundle / "data" / "events.csv")["energy_keV"].to_numpy()
thresholds_keV = [5.0, 20.0, 50.0]
summary = pd.DataFrame({
    "threshold_keV": thresholds_keV,
    "n_above": [int((energy_keV > t).sum()) for t in thresholds_keV],
    "mean_above_keV": [float(energy_keV[energy_keV > t].mean()) for t in thresholds_keV],
})
out.mkdir(parents=True, exist_ok=True)
summary.to_parquet(out / "summary.parquet", index=False)
lineage = {"name": "summary", "version": "1.0.0", "options": {},
           "inputs": {"events.csv": hashlib.sha256((bundle / "data" / "events.csv")
                                                    .read_bytes()).hexdigest()}}
key = "summary-" + hashlib.sha256(json.dumps(lineage, sort_keys=True).encode()).hexdigest()[:16]
(out / "summary.lineage.json").write_text(json.dumps(
    {"schema": "rarehub.lineage/1", "key": key, "lineage": lineage}))
print(f"uid={os.getuid()} tutorials={os.environ.get('RAREHUB_TUTORIALS')}")
'''


@pytest.fixture(scope="module")
def bundle(rarehub_image, tmp_path_factory) -> Path:
    """A small release whose recorded image is the one built from this tree."""
    src = tmp_path_factory.mktemp("work")
    (src / "data").mkdir()
    (src / "data" / "events.csv").write_text("energy_keV\n12.5\n37.25\n61.0\n88.5\n")
    (src / "make_summary.py").write_text(PIPELINE)
    subprocess.run(
        [sys.executable, str(src / "make_summary.py"), str(src), str(src / "results")],
        check=True,
        capture_output=True,
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import pandas as pd\n"
            "print(pd.read_parquet('results/summary.parquet').to_string(index=False))"
        ),
        nbformat.v4.new_code_cell(
            "import os\n"
            "print(f\"uid={os.getuid()} tutorials={os.environ.get('RAREHUB_TUTORIALS')}\")"
        ),
    ]
    nbformat.write(nb, src / "summary.ipynb")
    # Executed in the image, as the arbitrary UID, before freezing: its last cell's output
    # matches a re-execution only in the image.
    src.chmod(0o777)
    podman(
        "run",
        "--rm",
        *locked_down(src, f"--workdir={CONTAINER_HOME}"),
        rarehub_image,
        "python",
        "-m",
        "analysis_lib.release.execute_notebook",
        f"{CONTAINER_HOME}/summary.ipynb",
        f"{CONTAINER_HOME}/summary.ipynb",
        timeout=240,
    )
    digest = podman("image", "inspect", "--format={{.Digest}}", rarehub_image).stdout.strip()
    spec = ReleaseSpec(
        name="demo-summary",
        version="1.0.0",
        title="Demo event summary",
        authors=[{"name": "Doe, Jane", "affiliation": "RareHub"}],
        results=[src / "results" / "summary.parquet"],
        data=[src / "data" / "events.csv"],
        notebooks=[src / "summary.ipynb"],
        code=[src / "make_summary.py"],
        lock_file=REPO / "uv.lock",
        image=rarehub_image,
        image_digest=digest,
        rerun=["{python}", "{bundle}/code/make_summary.py", "{bundle}", "{out}"],
    )
    return freeze(spec, tmp_path_factory.mktemp("releases") / "demo-summary-1.0.0")


RELEASE_VERIFY = (sys.executable, "-m", "analysis_lib", "release", "verify")


def reseal(bundle: Path, rel: str) -> None:
    """Record ``rel``'s new checksum in the manifest and re-digest it (as a re-freeze would),
    so the manifest check passes and the re-run is reached."""
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest["files"][rel]["sha256"] = sha256_file(bundle / rel)
    (bundle / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    (bundle / MANIFEST_DIGEST).write_text(f"{sha256_file(bundle / MANIFEST)}  {MANIFEST}\n")


def verify_in_image(bundle: Path) -> subprocess.CompletedProcess:
    """``rarehub release verify BUNDLE --in-image`` (the recorded image) as an arbitrary UID."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis_lib",
            "release",
            "verify",
            str(bundle),
            "--in-image",
            f"--user={ARBITRARY_UID}:{ARBITRARY_UID}",
            "--verbose",
        ],
        env={k: v for k, v in podman_env().items() if k != "RAREHUB_TUTORIALS"},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_verify_reruns_pipeline_and_notebook_inside_the_image(bundle):
    result = verify_in_image(bundle)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("compared 1 results, executed 1 notebooks: OK"), (
        result.stdout
    )
    # The re-run ran as the arbitrary UID with the image's environment, not here.
    assert IN_IMAGE in result.stdout, result.stdout
    # The notebook too: executed here (--on-host), its last cell's output differs and is named.
    here = subprocess.run(
        [*RELEASE_VERIFY, str(bundle), "--on-host", "--no-rerun"],
        env={k: v for k, v in os.environ.items() if k != "RAREHUB_TUTORIALS"},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert here.returncode == 1, here.stdout + here.stderr
    assert "notebook: notebooks/summary.ipynb#cell1: output" in here.stdout, here.stdout
    assert "notebooks/summary.ipynb#cell0" not in here.stdout


def test_a_changed_number_is_named_by_the_rerun_in_the_image(bundle, tmp_path):
    copy = tmp_path / "changed"
    shutil.copytree(bundle, copy)
    csv = copy / "data" / "events.csv"
    csv.write_text(csv.read_text().replace("37.25", "37.5"))  # one number changed
    result = verify_in_image(copy)  # the manifest check fails first: nothing runs
    assert result.returncode == 1, result.stdout + result.stderr
    assert "checksum: data/events.csv" in result.stdout, result.stdout
    assert IN_IMAGE not in result.stdout, result.stdout
    reseal(copy, "data/events.csv")  # re-frozen with the changed number: the re-run names it
    result = verify_in_image(copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert IN_IMAGE in result.stdout, result.stdout
    problems = {line.split(": ")[1] for line in result.stdout.splitlines() if ": " in line}
    assert "summary.parquet:mean_above_keV" in problems, result.stdout
    assert "summary.parquet:n_above" not in problems  # the counts did not change
    # the notebook reads the released results, which did not change
    assert not [p for p in problems if p.startswith("notebooks/")], result.stdout


def test_a_tag_moved_to_another_image_is_named_and_not_used(bundle, tmp_path):
    copy = tmp_path / "moved"
    shutil.copytree(bundle, copy)
    release = json.loads((copy / "release.json").read_text())
    recorded = "sha256:" + "ab" * 32  # as if the tag was rebuilt after the freeze
    release["image"]["digest"] = recorded
    (copy / "release.json").write_text(json.dumps(release, indent=2))
    reseal(copy, "release.json")  # a consistent bundle whose tag now names another image
    result = verify_in_image(copy)
    assert result.returncode == 1, result.stdout + result.stderr
    image = release["image"]["reference"]
    assert f"image: {image}: digest sha256:" in result.stdout, result.stdout
    assert f"is not the recorded {recorded}" in result.stdout, result.stdout
    assert IN_IMAGE not in result.stdout  # nothing was re-run in the wrong image
    assert "compared 0 results, executed 0 notebooks" in result.stdout, result.stdout
