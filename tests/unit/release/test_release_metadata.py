"""A frozen release carries deposit metadata others can use: CITATION.cff (validated by the
library's CFF 1.2.0 rules and by cffconvert itself, in an isolated tool environment),
.zenodo.json and an RO-Crate naming the data, the notebooks, the code version and the image
digest — and a freeze with invalid metadata leaves nothing behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from analysis_lib.release import ReleaseSpec, freeze
from analysis_lib.release.metadata import (
    check_citation_cff,
    check_ro_crate,
    check_zenodo_json,
)
from rarehub_testing import REPO

DIGEST = "sha256:" + "ab" * 32
CFFCONVERT = "cffconvert==2.0.0"  # the reference validator; pins jsonschema<4, so not locked
ROC_VALIDATOR = "roc-validator==0.13.0"  # the RO-Crate validator (crs4), also a tool env
# Its checks that need the network, which tests must not use: fetching the JSON-LD context
# from w3id.org (4.1, 4.2) and resolving the root's DOI (51.1).
ROC_ONLINE_CHECKS = "ro-crate-1.3_4.1,ro-crate-1.3_4.2,ro-crate-1.3_51.1"


def spec_for(src: Path, **over) -> ReleaseSpec:
    (src / "data").mkdir(exist_ok=True)
    (src / "data" / "events.csv").write_text("energy_keV\n1.5\n2.5\n")
    results = src / "results"
    results.mkdir(exist_ok=True)
    pd.DataFrame({"x": [1.0, 2.0]}).to_parquet(results / "counts.parquet")
    (results / "counts.lineage.json").write_text(json.dumps({"key": "counts-0123456789abcdef"}))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("1 + 1")]
    nbformat.write(nb, src / "analysis.ipynb")
    fields = {
        "name": "csi-redo",
        "version": "1.10",  # a version YAML would read as the number 1.1 if unquoted
        "title": "COHERENT 2017 redone: fitted counts",
        "authors": [
            {"name": "Doe, Jane", "affiliation": "RareHub", "orcid": "0000-0002-1825-0097"},
            {"name": "Roe, Richard"},
        ],
        "description": "Template fit of the COHERENT CsI[Na] 2017 release.",
        "results": [results / "counts.parquet"],
        "data": [src / "data" / "events.csv"],
        "notebooks": [src / "analysis.ipynb"],
        "lock_file": REPO / "uv.lock",
        "image": "localhost/rarehub:demo",
        "image_digest": DIGEST,
        "keywords": ["CEvNS", "CsI"],
        "doi": "10.5281/zenodo.1228631",
        "code_version": "0123abc",
    }
    fields.update(over)
    return ReleaseSpec(**fields)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    return freeze(spec_for(src), tmp_path_factory.mktemp("out") / "csi-redo-1.10")


def test_citation_cff_is_valid_cff_1_2_0_with_the_release_s_facts(bundle):
    text = (bundle / "CITATION.cff").read_text()
    assert check_citation_cff(text) == []
    doc = yaml.safe_load(text)
    assert doc["cff-version"] == "1.2.0"
    assert doc["version"] == "1.10"  # still a string
    assert doc["authors"][0] == {
        "family-names": "Doe",
        "given-names": "Jane",
        "affiliation": "RareHub",
        "orcid": "https://orcid.org/0000-0002-1825-0097",
    }
    assert doc["doi"] == "10.5281/zenodo.1228631"
    assert doc["commit"] == "0123abc"


def uv() -> str:
    tools = Path(os.environ.get("RAREHUB_TOOLS", REPO / ".rarehub" / "tools"))
    found = tools / "bin" / "uv"
    return str(found) if found.is_file() else (shutil.which("uv") or "uv")


def test_cffconvert_itself_validates_the_citation(bundle, tmp_path):
    """The reference validator, run from PyPI in an isolated uv tool environment (it cannot
    join the lock: it pins jsonschema < 4)."""
    env = dict(os.environ, UV_TOOL_DIR=str(tmp_path / "tools"), UV_SYSTEM_CERTS="1")
    command = [uv(), "tool", "run", "--quiet", "--from", CFFCONVERT, "cffconvert", "--validate"]
    out = subprocess.run(
        [*command, "-i", str(bundle / "CITATION.cff")],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "valid according to schema version 1.2.0" in out.stdout + out.stderr


def test_the_ro_crate_validator_passes_the_crate_offline(bundle, tmp_path):
    """The RO-Crate validator (roc-validator, isolated tool environment) at the
    RECOMMENDED level, offline: no request leaves the machine."""
    env = dict(os.environ, UV_TOOL_DIR=str(tmp_path / "tools"), UV_SYSTEM_CERTS="1")
    command = [uv(), "tool", "run", "--quiet", "--from", ROC_VALIDATOR, "rocrate-validator"]
    report = tmp_path / "report.json"
    options = ["-y", "--disable-color", "validate", "--offline", "--no-paging"]
    options += ["-l", "recommended", "--skip-checks", ROC_ONLINE_CHECKS]
    options += ["-f", "json", "-o", str(report), str(bundle)]
    out = subprocess.run(
        [*command, *options],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert report.is_file(), out.stdout[-2000:] + out.stderr[-2000:]
    result = json.loads(report.read_text())
    assert [i["message"] for i in result["issues"]] == []
    assert result["passed"] is True
    assert out.returncode == 0
    assert result["statistics"]["total_passed_requirements"] > 50


def test_zenodo_json_has_the_deposit_fields(bundle):
    doc = json.loads((bundle / ".zenodo.json").read_text())
    assert check_zenodo_json(doc) == []
    assert doc["upload_type"] == "dataset"
    assert doc["creators"][0] == {
        "name": "Doe, Jane",
        "affiliation": "RareHub",
        "orcid": "0000-0002-1825-0097",
    }
    assert {"CEvNS", "CsI"} <= set(doc["keywords"])
    assert doc["license"] == "cc-by-4.0"


def test_ro_crate_describes_data_notebooks_code_version_and_image(bundle):
    from rocrate.rocrate import ROCrate

    assert check_ro_crate(bundle) == []
    crate = ROCrate(bundle)  # the rocrate package reads it back
    ids = {e.id for e in crate.data_entities}
    assert {
        "data/events.csv",
        "results/counts.parquet",
        "results/counts.lineage.json",
        "notebooks/analysis.ipynb",
        "environment/uv.lock",
    } <= ids
    nb = crate.dereference("notebooks/analysis.ipynb")
    assert nb["encodingFormat"] == "application/x-ipynb+json"
    image = crate.dereference("#container-image")
    assert image["identifier"] == DIGEST
    assert image["name"] == "localhost/rarehub:demo"
    code = crate.dereference("#rarehub")
    assert code["version"] == "0123abc"
    assert code["softwareVersion"]
    assert crate.root_dataset["license"].id == "https://spdx.org/licenses/CC-BY-4.0"
    assert [a["name"] for a in crate.root_dataset["author"]] == ["Doe, Jane", "Roe, Richard"]
    # … and the manifest covers the metadata files too (verify checks them)
    manifest = json.loads((bundle / "MANIFEST.json").read_text())["files"]
    assert {"CITATION.cff", ".zenodo.json", "ro-crate-metadata.json"} <= set(manifest)


def test_checkers_name_what_is_wrong(bundle, tmp_path):
    good = (bundle / "CITATION.cff").read_text()
    doc = yaml.safe_load(good)
    bad = dict(doc, **{"date-released": "2026-13-40", "colour": "blue"})
    bad["authors"] = [{"family-names": "Doe", "orcid": "0000-0002-1825-0097"}]
    del bad["title"]
    problems = "\n".join(check_citation_cff(yaml.safe_dump(bad)))
    assert "'title' is a required property" in problems
    assert "'colour' was unexpected" in problems
    assert "authors/0" in problems  # the ORCID must be a URL
    assert "2026-13-40" in problems
    assert ["not YAML" in p for p in check_citation_cff("a: [")] == [True]

    z = json.loads((bundle / ".zenodo.json").read_text())
    z.update(upload_type="thesis", publication_date="06/12/2026")
    z["creators"][0]["orcid"] = "https://orcid.org/0000-0002-1825-0097"
    problems = "\n".join(check_zenodo_json(z))
    assert "upload_type: 'thesis'" in problems
    assert "publication_date" in problems
    assert "creators/0/orcid" in problems

    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    (copy / "data" / "events.csv").write_text("energy_keV\n9\n")
    (copy / "notebooks" / "analysis.ipynb").unlink()
    crate = json.loads((copy / "ro-crate-metadata.json").read_text())
    root = next(e for e in crate["@graph"] if e["@id"] == "./")
    root["author"].append({"@id": "#nobody"})
    del root["license"]
    (copy / "ro-crate-metadata.json").write_text(json.dumps(crate))
    problems = "\n".join(check_ro_crate(copy))
    assert "data/events.csv: sha256 differs" in problems
    assert "hasPart notebooks/analysis.ipynb: no such file" in problems
    assert "refers to '#nobody'" in problems
    assert "license is required" in problems


def test_a_freeze_with_invalid_metadata_leaves_nothing(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    spec = spec_for(src, authors=[{"name": "Doe, Jane", "orcid": "0000-0002-XXXX-0097"}])
    out = tmp_path / "out" / "bundle"
    with pytest.raises(ValueError, match=r"CITATION.cff: authors/0"):
        freeze(spec, out)
    assert not out.exists()
    assert list(out.parent.iterdir()) == []  # no temporary folder either
