"""The documentation builds clean: warnings are errors and every internal reference resolves.

The full build (``sphinx-build -W --keep-going -n -b html``) runs once per session into a
temporary folder; the generated pages (CLI, hub traits, site schema, API, tutorials) are
checked against the code they come from. A second, quick build of a copy of the docs with a
broken reference must fail, which shows that the checks are really on. External links are
not checked: the test machines have no outside network.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest

from rarehub_testing import REPO

DOCS = REPO / "docs"


def sphinx_build(src: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{REPO / 'hub'}")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-n",
            "-b",
            "html",
            "-q",
            *extra,
            str(src),
            str(out / "html"),
            "-d",
            str(out / "doctrees"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def from_checkout(module: str, name: str):
    """``name`` from ``module`` as it is in this checkout (the docs build reads the checkout)."""
    sys.path[:0] = [str(REPO), str(REPO / "hub")]
    try:
        return getattr(importlib.import_module(module), name)
    finally:
        del sys.path[:2]


def page_text(path: Path) -> str:
    """The visible text of an HTML page, tags stripped, Sphinx's smart quotes undone."""
    text = unescape(re.sub(r"<[^>]+>", "", path.read_text()))
    return text.translate(str.maketrans("‘’“”", "''\"\""))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    result = sphinx_build(DOCS, out)
    assert result.returncode == 0, f"docs build failed:\n{result.stderr[-6000:]}"
    return out / "html"


def test_every_tutorial_is_rendered_without_outputs(built):
    notebooks = sorted((REPO / "tutorials").glob("*.ipynb"))
    assert notebooks, "tutorials/ holds no notebook"
    for nb in notebooks:
        page = built / "tutorials" / f"{nb.stem}.html"
        assert page.exists(), f"{nb.name} is not rendered"
    index = (built / "tutorials" / "index.html").read_text()
    for nb in notebooks:
        assert f"{nb.stem}.html" in index, f"{nb.name} is missing from the tutorials index"


def test_cli_reference_lists_every_command_of_both_parsers(built):
    library_parser = from_checkout("analysis_lib.cli", "build_parser")
    hub_parser = from_checkout("rarehub_hub.cli", "build_parser")
    text = page_text(built / "reference" / "cli.html")
    for prog, parser in (("rarehub", library_parser()), ("rarehub-hub", hub_parser())):
        sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        assert sub.choices, f"{prog} has no sub-commands"
        for name in sub.choices:
            assert f"{prog} {name}" in text, f"'{prog} {name}' missing from the CLI page"


def test_hub_configuration_comes_from_trait_help(built):
    RareHubSlurmSpawner = from_checkout("rarehub_hub.slurm_spawner", "RareHubSlurmSpawner")
    text = " ".join(page_text(built / "reference" / "hub-configuration.html").split())
    own = {
        name: trait
        for name, trait in RareHubSlurmSpawner.class_own_traits(config=True).items()
        if trait.help
    }
    assert {"runtime", "image", "binds", "port_range"} <= set(own)
    for name, trait in own.items():
        assert f"RareHubSlurmSpawner.{name}" in text, f"trait {name} missing"
        assert " ".join(trait.help.split())[:60] in text, f"help of {name} missing"


def test_site_yaml_reference_covers_every_schema_key(built):
    SCHEMA = from_checkout("rarehub_hub.site", "SCHEMA")

    def keys(schema, prefix=""):
        for key, sub in schema.get("properties", {}).items():
            yield prefix + key
            if "properties" in sub:
                yield from keys(sub, f"{prefix}{key}.")

    text = page_text(built / "reference" / "site-yaml.html")
    for key in keys(SCHEMA):
        assert key in text, f"site YAML key {key} missing from the reference"


def test_api_reference_has_a_page_per_library_room(built):
    rooms = [
        p.name
        for p in (REPO / "analysis_lib").iterdir()
        if (p / "__init__.py").exists() and not p.name.startswith("_")
    ]
    assert len(rooms) >= 5
    for room in rooms:
        page = built / "reference" / "api" / f"{room}.html"
        assert page.exists(), f"no API page for analysis_lib.{room}"
        assert f"analysis_lib.{room}" in page_text(page)


def test_a_broken_internal_reference_fails_the_build(tmp_path):
    """A copy of the docs (API pages left out to keep it quick) with one dangling link: the
    build fails, and that link is the only problem it reports."""
    for name in ("analysis_lib", "hub", "tutorials"):
        (tmp_path / name).symlink_to(REPO / name, target_is_directory=True)
    shutil.copytree(DOCS, tmp_path / "docs", ignore=shutil.ignore_patterns("_build"))
    page = tmp_path / "docs" / "contributing.md"
    page.write_text(page.read_text() + "\nSee {doc}`howto/no-such-page`.\n")
    bad = sphinx_build(tmp_path / "docs", tmp_path / "out", "-D", "rarehub_api=0")
    assert bad.returncode != 0
    problems = [line for line in bad.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    assert problems, bad.stderr[-3000:]
    assert all("no-such-page" in line for line in problems), problems


def test_a_slip_in_a_code_docstring_is_shown_verbatim_and_named_not_fatal(tmp_path):
    """The contributing page's promise: a library docstring with a reST mistake or a dangling
    reference does not break the build; the page shows it verbatim and the log names it."""
    for name in ("analysis_lib", "hub", "tutorials"):
        (tmp_path / name).symlink_to(REPO / name, target_is_directory=True)
    shutil.copytree(DOCS, tmp_path / "docs", ignore=shutil.ignore_patterns("_build"))
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "sloppy_room.py").write_text(
        '"""A room whose docstrings have slips.\n\nAn ``unclosed literal, then\n'
        'more text\n"""\n\n\n'
        "def helper():\n"
        '    """Uses :class:`analysis_lib.no_such_room.Missing`, which does not exist."""\n'
    )
    page = tmp_path / "docs" / "contributing.md"
    page.write_text(
        page.read_text() + "\n```{eval-rst}\n.. automodule:: sloppy_room\n   :members:\n```\n"
    )
    env_path = f"{modules}{os.pathsep}{REPO}{os.pathsep}{REPO / 'hub'}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-n",
            "-b",
            "html",
            "-D",
            "rarehub_api=0",
            "-D",
            "rarehub_lenient_prefixes=sloppy_room,analysis_lib,rarehub_hub",
            str(tmp_path / "docs"),
            str(tmp_path / "out"),
            "-d",
            str(tmp_path / "doctrees"),
        ],
        env=dict(os.environ, PYTHONPATH=env_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert "[rarehub-docs] docstring shown verbatim: sloppy_room" in log
    assert (
        "[rarehub-docs] unresolved reference in a docstring: analysis_lib.no_such_room.Missing"
        in log
    )
    assert "An ``unclosed literal" in page_text(tmp_path / "out" / "contributing.html")
