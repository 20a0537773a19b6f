"""Local Sphinx extension: the pages that are generated from the code, never written by hand.

At ``config-inited`` (before Sphinx looks for source files) it writes, into the docs tree
(git-ignored):

- ``tutorials/*.ipynb``: copies of ``<repo>/tutorials/*.ipynb`` (rendered, not executed);
- ``reference/_generated/cli-rarehub.md`` and ``cli-rarehub-hub.md``: the ``--help`` of every
  command and sub-command, from ``analysis_lib.cli.build_parser()`` and
  ``rarehub_hub.cli.build_parser()``;
- ``reference/_generated/site-schema.md``: the site YAML schema (``rarehub_hub.site.SCHEMA``)
  as a table of keys plus the JSON itself;
- ``reference/api/*.md``: one autodoc page per ``analysis_lib`` room (sub-package), listing
  each public module (names not starting with ``_``) minus ``rarehub_api_exclude``.

A file is rewritten only when its content changes, so incremental builds stay incremental.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

HELP_COLUMNS = "88"


def write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (via a temporary file) unless it already holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text() == text:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def copy_tutorials(src: Path, dst: Path) -> list[str]:
    """Mirror the notebooks of ``src`` into ``dst``; return their names (sorted)."""
    dst.mkdir(parents=True, exist_ok=True)
    names = sorted(p.name for p in src.glob("*.ipynb"))
    for stale in dst.glob("*.ipynb"):
        if stale.name not in names:
            stale.unlink()
    for name in names:
        s, d = src / name, dst / name
        if not d.exists() or d.read_bytes() != s.read_bytes():
            shutil.copyfile(s, d)
    return names


def walk_parser(
    parser: argparse.ArgumentParser, words: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Yield (command words, parser) for ``parser`` and every sub-command, depth first."""
    yield words, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk_parser(sub, (*words, name))


def cli_markdown(parser: argparse.ArgumentParser, prog: str) -> str:
    """Markdown with one section per command: its ``--help`` text, verbatim."""
    lines = []
    for words, sub in walk_parser(parser, (prog,)):
        level = "#" * min(len(words) + 1, 6)
        lines += [f"{level} `{' '.join(words)}`", "", "```text", sub.format_help().rstrip()]
        lines += ["```", ""]
    return "\n".join(lines)


def _type_of(spec: Mapping[str, Any]) -> str:
    if "enum" in spec:
        return "one of " + ", ".join(f"`{v}`" for v in spec["enum"])
    kind = spec.get("type", "")
    if kind == "array":
        items = spec.get("items", {})
        return f"list of {_type_of(items) or 'values'}"
    if kind == "object" and "additionalProperties" in spec and not spec.get("properties"):
        extra = spec["additionalProperties"]
        return f"mapping to {_type_of(extra)}" if isinstance(extra, dict) else "mapping"
    return str(kind)


def schema_rows(schema: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, ...]]:
    """(key path, type, required, default, description) for every key, depth first."""
    required = set(schema.get("required", []))
    for key, spec in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        default = json.dumps(spec["default"]) if "default" in spec else ""
        notes = [spec.get("description", "")]
        for bound in ("minimum", "maximum", "exclusiveMinimum", "minLength", "pattern"):
            if bound in spec:
                notes.append(f"{bound} {spec[bound]}")
        yield (
            f"`{path}`",
            _type_of(spec),
            "yes" if key in required else "",
            f"`{default}`" if default else "",
            "; ".join(n for n in notes if n),
        )
        if spec.get("type") == "object" and "properties" in spec:
            yield from schema_rows(spec, path + ".")
        items = spec.get("items", {})
        if spec.get("type") == "array" and "properties" in items:
            yield from schema_rows(items, path + "[].")


def schema_markdown(schema: Mapping[str, Any]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        "| key | type | required | default | notes |",
        "|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in schema_rows(schema)]
    lines += ["", "The schema itself (`rarehub-hub schema` prints it):", "", "```json"]
    lines += [json.dumps(schema, indent=2), "```", ""]
    return "\n".join(lines)


def api_pages(package_dir: Path, exclude: set[str]) -> dict[str, str]:
    """One Markdown page per room of ``analysis_lib``: {room: page text}."""
    pages = {}
    for room in sorted(p for p in package_dir.iterdir() if (p / "__init__.py").exists()):
        if room.name.startswith("_"):
            continue
        package = f"analysis_lib.{room.name}"
        modules = [package] + [
            f"{package}.{m.stem}" for m in sorted(room.glob("*.py")) if not m.stem.startswith("_")
        ]
        body = [f"# `{package}`", ""]
        for module in modules:
            if module in exclude:
                continue
            # The package page shows only its docstring: its members are re-exports,
            # documented once, in the module that defines them.
            options = ["   :no-members:"] if module == package else []
            body += ["```{eval-rst}", f".. automodule:: {module}", *options, "```", ""]
        pages[room.name] = "\n".join(body)
    return pages


_IGNORED_MESSAGES = ("Unknown interpreted text role", "Unknown directive type")


def docstring_problems(lines: list[str]) -> list[str]:
    """The reST problems docutils finds in a docstring (already converted by napoleon).

    Sphinx's own roles and directives are unknown to bare docutils and are not counted.
    """
    from docutils.core import publish_doctree
    from docutils.utils import SystemMessage

    # Bare docutils does not know Sphinx's roles and directives (and calling them outside a
    # read would fail): roles become plain words and directives comments before checking.
    text = "\n".join(lines)
    # (same length, so that title underlines keep their meaning; "(" keeps the start-string
    # recognisable, so ":class:`X`s" is still the error it is under Sphinx)
    text = re.sub(r":[\w:.+-]+:(`[^`]*`)", lambda m: "(" * (len(m[0]) - len(m[1])) + m[1], text)
    text = re.sub(r"(?m)^(\s*)\.\. ([\w:.+-]+)::", r"\1.. \2 --", text)
    messages: list[str] = []
    try:
        tree = publish_doctree(
            text,
            settings_overrides={"report_level": 5, "halt_level": 5, "warning_stream": False},
        )
    except SystemMessage as e:  # pragma: no cover - halt_level 5 never halts
        return [str(e)]
    for msg in tree.findall(lambda n: n.tagname == "system_message"):
        text = msg.astext()
        if msg["level"] >= 2 and not any(m in text for m in _IGNORED_MESSAGES):
            messages.append(text.splitlines()[0] if text else "problem")
    return messages


def show_broken_docstring_verbatim(app, what, name, obj, options, lines) -> None:
    """A library docstring with reST mistakes is shown as plain text, and logged.

    The docstrings belong to the library's authors; a markup slip in one of them must not
    break the documentation build for everyone. The page then shows the docstring verbatim
    (nothing is lost) and the build log names it (``[rarehub-docs] docstring shown
    verbatim``) so its author can fix it. Problems in the docs' own pages stay errors.
    """
    if not name.startswith(tuple(app.config.rarehub_lenient_prefixes)) or not lines:
        return
    problems = docstring_problems(lines)
    if not problems:
        return
    from sphinx.util import logging

    logging.getLogger(__name__).info(
        "[rarehub-docs] docstring shown verbatim: %s (%s)", name, problems[0]
    )
    app.env.rarehub_verbatim_docstrings = sorted(
        {*getattr(app.env, "rarehub_verbatim_docstrings", []), name}
    )
    raw = list(lines)
    lines[:] = ["::", ""] + ["    " + line for line in raw] + [""]


def log_unresolved_docstring_reference(app, domain, node) -> bool | None:
    """A cross-reference in a code docstring that does not resolve is logged, not fatal.

    Same policy as :func:`show_broken_docstring_verbatim`: the docstrings are their authors'
    to fix (the log names them: ``[rarehub-docs] unresolved reference in a docstring``);
    references in the docs' own pages still fail the build.
    """
    source = str(node.source or "")
    if ":docstring of " not in source:
        return None
    owner = source.rsplit(":docstring of ", 1)[1]
    if not owner.startswith(tuple(app.config.rarehub_lenient_prefixes)):
        return None
    from sphinx.util import logging

    logging.getLogger(__name__).info(
        "[rarehub-docs] unresolved reference in a docstring: %s in %s",
        node.get("reftarget"),
        owner,
    )
    return True


def generate(app, config) -> None:
    docs = Path(app.srcdir)
    root = docs.parent
    generated = docs / "reference" / "_generated"

    copy_tutorials(root / "tutorials", docs / "tutorials")

    old_columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS  # argparse wraps help to the terminal width
    try:
        from analysis_lib.cli import build_parser as library_parser
        from rarehub_hub.cli import build_parser as hub_parser

        write_if_changed(generated / "cli-rarehub.md", cli_markdown(library_parser(), "rarehub"))
        write_if_changed(
            generated / "cli-rarehub-hub.md", cli_markdown(hub_parser(), "rarehub-hub")
        )
    finally:
        if old_columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old_columns

    from rarehub_hub.site import SCHEMA

    write_if_changed(generated / "site-schema.md", schema_markdown(SCHEMA))

    api_dir = docs / "reference" / "api"
    pages = (
        api_pages(root / "analysis_lib", set(config.rarehub_api_exclude))
        if config.rarehub_api
        else {}
    )
    for stale in api_dir.glob("*.md"):
        if stale.stem != "index" and stale.stem not in pages:
            stale.unlink()
    for room, text in pages.items():
        write_if_changed(api_dir / f"{room}.md", text)
    index = [
        "# Library API (`analysis_lib`)",
        "",
        "Generated from the docstrings of each room of the library, one page per room.",
        "The `rarehub` command line is documented in {doc}`../cli`.",
        "",
        "```{toctree}",
        ":maxdepth: 1",
        "",
        *pages,
        "```",
        "",
    ]
    write_if_changed(api_dir / "index.md", "\n".join(index))


def setup(app):
    app.add_config_value("rarehub_api_exclude", [], "env")
    # docstrings of these packages: reST slips shown verbatim, unresolved references logged
    app.add_config_value(
        "rarehub_lenient_prefixes", ["analysis_lib", "rarehub_hub"], "env", types=(list,)
    )
    # -D rarehub_api=0: leave the API pages out (a quick build of the hand-written pages)
    app.add_config_value("rarehub_api", True, "env", types=(bool, int))
    app.connect("config-inited", generate)
    # after napoleon (priority 500) has turned numpydoc sections into reST
    app.connect("autodoc-process-docstring", show_broken_docstring_verbatim, priority=600)
    app.connect("warn-missing-reference", log_unresolved_docstring_reference)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
