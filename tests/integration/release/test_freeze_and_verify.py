"""Frozen releases: freeze a bundle, verify it (checksums, re-run, notebooks), then flip one
byte anywhere and check that verify names what changed.

The "pipeline" here is a small script shipped in the bundle that turns event energies into
an exclusion curve with analysis_lib (physics + stats) and writes the result with its
lineage; the notebook reads the result and prints numbers. Both re-run in the current
environment (the image variant, ``--in-image``, is tested in tests/images).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from analysis_lib.release import ReleaseSpec, freeze, verify
from analysis_lib.release.bundle import MANIFEST, MANIFEST_DIGEST, sha256_file
from rarehub_testing import REPO

pytestmark = pytest.mark.timeout(300)

PIPELINE = '''\
"""Make results/limits.parquet from data/events.csv (with its lineage beside it)."""
import hashlib, json, sys
from pathlib import Path
import pandas as pd
from analysis_lib.stats.exclusion import exclusion_curve

bundle, out = Path(sys.argv[1]), Path(sys.argv[2])
events = pd.read_csv(bundle / "data" / "events.csv")["energy_keV"].to_numpy()
curve = exclusion_curve([10.0, 30.0, 100.0, 300.0], "Ge", 1000.0, threshold_keV=5.0,
                        max_keV=100.0, method="max-gap", events_keV=events)
out.mkdir(parents=True, exist_ok=True)
curve.to_parquet(out / "limits.parquet", index=False)
lineage = {"name": "limits", "version": "1.0.0", "options": {"target": "Ge"},
           "inputs": {"events.csv": hashlib.sha256((bundle / "data" / "events.csv")
                                                    .read_bytes()).hexdigest()}}
key = "limits-" + hashlib.sha256(json.dumps(lineage, sort_keys=True).encode()).hexdigest()[:16]
(out / "limits.lineage.json").write_text(json.dumps(
    {"schema": "rarehub.lineage/1", "key": key, "lineage": lineage}))
'''


def make_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Limits from the release"),
        nbformat.v4.new_code_cell(
            "import pandas as pd\n"
            "limits = pd.read_parquet('results/limits.parquet')\n"
            "print(limits[['mass_GeV', 'mu_up']].to_string(index=False))"
        ),
        nbformat.v4.new_code_cell("float(limits['sigma_up_cm2'].min())"),
    ]
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("work")
    (src / "data").mkdir()
    (src / "data" / "events.csv").write_text("energy_keV\n12.5\n37.25\n61.0\n88.5\n")
    (src / "make_limits.py").write_text(PIPELINE)
    subprocess.run(
        [sys.executable, str(src / "make_limits.py"), str(src), str(src / "results")], check=True
    )
    # run the notebook once where the results are, as a user would before releasing
    make_notebook(src / "limits.ipynb")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis_lib.release.execute_notebook",
            str(src / "limits.ipynb"),
            str(src / "limits.ipynb"),
            "--cwd",
            str(src),
        ],
        check=True,
    )
    spec = ReleaseSpec(
        name="ge-demo-limits",
        version="1.0.0",
        title="Demo Ge WIMP limits",
        authors=[{"name": "Doe, Jane", "affiliation": "RareHub", "orcid": "0000-0002-1825-0097"}],
        description="Maximum-gap limits from four demo events.",
        results=[src / "results" / "limits.parquet"],
        data=[src / "data" / "events.csv"],
        notebooks=[src / "limits.ipynb"],
        code=[src / "make_limits.py"],
        lock_file=REPO / "uv.lock",
        image="localhost/rarehub:demo",
        image_digest="sha256:" + "0" * 64,
        rerun=["{python}", "{bundle}/code/make_limits.py", "{bundle}", "{out}"],
        tolerances={"limits.parquet:events_per_1e-45_cm2": {"rtol": 1e-12}},
    )
    return freeze(spec, tmp_path_factory.mktemp("releases") / "ge-demo-limits-1.0.0")


def test_freeze_writes_a_complete_bundle(bundle):
    names = {str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file()}
    assert {
        "README.md",
        "release.json",
        "CITATION.cff",
        ".zenodo.json",
        "ro-crate-metadata.json",
        "MANIFEST.json",
        "MANIFEST.json.sha256",
        "environment/uv.lock",
        "data/events.csv",
        "results/limits.parquet",
        "results/limits.lineage.json",
        "notebooks/limits.ipynb",
        "code/make_limits.py",
    } <= names
    release = json.loads((bundle / "release.json").read_text())
    assert release["image"]["digest"].startswith("sha256:")
    assert release["lineage_keys"]["limits.parquet"].startswith("limits-")
    deposit = json.loads((bundle / ".zenodo.json").read_text())
    assert deposit["creators"][0]["orcid"] == "0000-0002-1825-0097"
    assert "cff-version: 1.2.0" in (bundle / "CITATION.cff").read_text()
    with pytest.raises(FileExistsError):
        freeze(ReleaseSpec("x", "1", "x", []), bundle)


def test_verify_reruns_the_pipeline_and_notebook_and_agrees(bundle):
    report = verify(bundle)
    assert report.ok, [str(p) for p in report.problems]
    assert report.compared_results == 1
    assert report.executed_notebooks == 1
    assert report.checked_files >= 10


def flip_byte(path: Path, where: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    data[min(int(len(data) * where), len(data) - 1)] ^= 0x01
    path.write_bytes(bytes(data))


def test_flipping_one_byte_anywhere_is_named(bundle, tmp_path):
    files = sorted(str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file())
    for rel in files:
        for where in (0.0, 0.5, 1.0):  # first, middle and last byte
            copy = tmp_path / f"{rel.replace('/', '_')}-{where}"
            shutil.copytree(bundle, copy)
            flip_byte(copy / rel, where)
            report = verify(copy, rerun=False, notebooks=False)
            assert not report.ok, (rel, where)
            assert any(rel in name for name in report.names()), (rel, where, report.names())


def reseal(bundle: Path, rel: str) -> None:
    """Record ``rel``'s new checksum in the manifest and re-digest it (what someone who
    re-froze the bundle would do): the manifest check then passes."""
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest["files"][rel]["sha256"] = sha256_file(bundle / rel)
    (bundle / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    (bundle / MANIFEST_DIGEST).write_text(f"{sha256_file(bundle / MANIFEST)}  {MANIFEST}\n")


def test_a_changed_input_shows_up_as_different_numbers_by_column(bundle, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    csv = copy / "data" / "events.csv"
    csv.write_text(csv.read_text().replace("37.25", "47.25"))
    report = verify(copy, notebooks=False)
    assert "data/events.csv" in report.names()
    assert report.compared_results == 0  # the manifest failed: nothing was re-run
    reseal(copy, "data/events.csv")
    report = verify(copy, notebooks=False)
    names = report.names()
    assert "data/events.csv" not in names
    assert "limits.parquet:mu_up" in names
    assert "limits.parquet:sigma_up_cm2" in names
    assert "limits.parquet:mass_GeV" not in names  # unchanged numbers are not reported


def verify_cli(bundle: Path, *options: str) -> subprocess.CompletedProcess:
    """``rarehub release verify BUNDLE`` (checksums and environment only), as a user runs it."""
    command = [sys.executable, "-m", "analysis_lib", "release", "verify", str(bundle)]
    return subprocess.run(
        [*command, *(options or ("--no-rerun", "--no-notebooks"))],
        capture_output=True,
        text=True,
    )


def test_cli_verify_exit_code_and_report(bundle, tmp_path):
    copy = tmp_path / "c"
    shutil.copytree(bundle, copy)
    ok = verify_cli(copy)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.strip().endswith("OK")
    flip_byte(copy / "environment" / "uv.lock")
    bad = verify_cli(copy)
    assert bad.returncode == 1
    assert "checksum: environment/uv.lock" in bad.stdout


@pytest.mark.security
def test_a_bundle_that_fails_its_manifest_is_never_executed(bundle, tmp_path):
    """A tampered pipeline script (it would write a canary) is named and never run, not by
    verify(rerun=True) and not by the command line, which runs no code unless asked."""
    copy = tmp_path / "evil"
    shutil.copytree(bundle, copy)
    canary = tmp_path / "canary"
    script = next((copy / "code").glob("*.py"))
    script.write_text(f"open({str(canary)!r}, 'w').write('ran')\n" + script.read_text())
    report = verify(copy)
    assert any(str(script.relative_to(copy)) in name for name in report.names())
    assert report.compared_results == 0
    assert report.executed_notebooks == 0
    assert not canary.exists()
    reseal(copy, str(script.relative_to(copy)))  # now it passes the manifest check …
    out = verify_cli(copy, "--no-notebooks")  # … but the command line still runs nothing
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no code of the bundle was run" in out.stdout
    assert not canary.exists()
