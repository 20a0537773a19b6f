"""The CI guard (tests/support/ci_guard.py), run on small test files with pytester: under
CI=true every skip and every xfail not declared expected is a failure, wherever it happens."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

# Every way a test can avoid running, in one file; `declared_*` carry the marker.
WAYS = """
import pytest

@pytest.fixture
def needs_component():
    pytest.skip("no slurm (fixture)")

def test_passes():
    pass

def test_skip_in_call():
    pytest.skip("no slurm (call)")

@pytest.mark.skip(reason="marked skip")
def test_marked_skip():
    pass

@pytest.mark.skipif(True, reason="no podman (skipif)")
def test_skipif():
    pass

def test_skip_in_fixture(needs_component):
    pass

def test_importorskip_in_call():
    pytest.importorskip("rarehub_no_such_module_for_the_guard")

def test_imperative_xfail():
    pytest.xfail("no slurm (imperative xfail)")

@pytest.mark.xfail(reason="marked xfail", strict=True)
def test_marked_xfail():
    assert False

@pytest.mark.expected_in_ci("upstream bug, expected everywhere")
@pytest.mark.xfail(reason="declared xfail", strict=True)
def test_declared_xfail():
    assert False

@pytest.mark.expected_in_ci(reason="only meaningful on macOS")
def test_declared_skip():
    pytest.skip("declared skip")
"""

COLLECTION_SKIP = """
import pytest
pytest.importorskip("rarehub_no_such_module_for_the_guard", reason="the reference lib")

def test_never_collected():
    pass
"""

MODULE_LEVEL_SKIP = """
import pytest
pytest.skip("whole module skipped", allow_module_level=True)

def test_never_collected():
    pass
"""


def run(pytester, monkeypatch, ci: str | None, *args: str):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    # loaded as tests/conftest.py loads it
    pytester.makeconftest(
        "from ci_guard import pytest_configure, pytest_make_collect_report,"
        " pytest_runtest_makereport"
    )
    return pytester.runpytest("-p", "no:cacheprovider", "-rA", *args)


def test_without_ci_skips_and_xfails_stay_what_they_are(pytester, monkeypatch):
    pytester.makepyfile(test_ways=WAYS, test_collection=COLLECTION_SKIP)
    result = run(pytester, monkeypatch, None)
    result.assert_outcomes(passed=1, skipped=7, xfailed=3)


@pytest.mark.parametrize("ci", ["true", "1"])
def test_under_ci_every_undeclared_skip_and_xfail_fails_with_its_reason(pytester, monkeypatch, ci):
    pytester.makepyfile(test_ways=WAYS)
    result = run(pytester, monkeypatch, ci)
    # declared: still a skip and an xfail; everything else that did not run: failed (in
    # setup, an error)
    result.assert_outcomes(passed=1, failed=4, errors=3, skipped=1, xfailed=1)
    out = result.stdout.str()
    for name, reason in [
        ("test_skip_in_call", "no slurm (call)"),
        ("test_marked_skip", "marked skip"),
        ("test_skipif", "no podman (skipif)"),
        ("test_skip_in_fixture", "no slurm (fixture)"),
        ("test_importorskip_in_call", "rarehub_no_such_module_for_the_guard"),
        ("test_imperative_xfail", "no slurm (imperative xfail)"),
        ("test_marked_xfail", "marked xfail"),
    ]:
        assert f"FAILED test_ways.py::{name}" in out or f"ERROR test_ways.py::{name}" in out
        assert reason in out
    assert "xfail under CI=true, which counts as a failure" in out
    assert "expected_in_ci(reason)" in out  # the failure says how to declare one
    assert "upstream bug" not in out.split("short test summary")[0]


@pytest.mark.parametrize("source", [COLLECTION_SKIP, MODULE_LEVEL_SKIP])
def test_under_ci_a_module_skipped_at_collection_fails_and_the_rest_still_runs(
    pytester, monkeypatch, source
):
    pytester.makepyfile(test_skipped_module=source, test_other="def test_ok():\n    pass\n")
    result = run(pytester, monkeypatch, "true")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "FAILED test_skipped_module.py::skipped-at-collection" in out
    assert "skipped at collection under CI=true, which counts as a failure" in out
    assert ("the reference lib" if source is COLLECTION_SKIP else "whole module skipped") in out
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_ci_false_is_not_ci(pytester, monkeypatch):
    pytester.makepyfile(test_ways=WAYS)
    run(pytester, monkeypatch, "false").assert_outcomes(passed=1, skipped=6, xfailed=3)


def test_a_declaration_without_a_reason_is_an_error(pytester, monkeypatch):
    pytester.makepyfile(
        test_bare="""
import pytest

@pytest.mark.expected_in_ci
def test_bare():
    pytest.skip("why")
"""
    )
    result = run(pytester, monkeypatch, "true")
    assert "needs a reason" in result.stdout.str() + result.stderr.str()
    assert result.ret != pytest.ExitCode.OK


def test_ci_run_sets_ci_and_runs_exactly_the_readmes_test_command(tmp_path):
    """`.ci/run`, copied beside a stand-in `./dev` that records how it was called."""
    repo = Path(__file__).resolve().parents[2]
    assert "\n./dev test\n" in (repo / "README.md").read_text()
    (tmp_path / ".ci").mkdir()
    shutil.copy(repo / ".ci" / "run", tmp_path / ".ci" / "run")
    dev = tmp_path / "dev"
    dev.write_text('#!/bin/sh\necho "CI=$CI args=$*" > called\n')
    dev.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin"}  # no CI from the caller
    subprocess.run([tmp_path / ".ci" / "run"], env=env, cwd="/", check=True, timeout=30)
    assert (tmp_path / "called").read_text() == "CI=true args=test\n"
