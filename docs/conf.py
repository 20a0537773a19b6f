"""Sphinx configuration of the RareHub documentation.

Build (from the repository root, with the locked environment)::

    python -m sphinx -W --keep-going -n -b html docs docs/_build/html

Generated at build time by ``_ext/rarehub_docs.py`` (git-ignored, never edited by hand):
``tutorials/*.ipynb`` (copied from ``../tutorials``, rendered without executing them),
``reference/_generated/*.md`` (CLI help, site-YAML schema) and ``reference/api/*.md``
(one page per ``analysis_lib`` room).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# The working tree's code, not whatever is installed (the env is installed non-editable).
sys.path[:0] = [str(ROOT), str(ROOT / "hub"), str(DOCS / "_ext")]

project = "RareHub"
author = "RareHub developers"
copyright = "RareHub developers"
release = "0.1.0"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # the library's numpydoc docstrings
    "autodoc_traits",  # the hub's configuration reference from trait help
    "rarehub_docs",  # generated pages: CLI, site schema, API rooms, tutorials
]

exclude_patterns = ["_build", "**/_generated", "**/.ipynb_checkpoints", "Thumbs.db"]
root_doc = "index"
html_theme = "furo"
html_title = "RareHub"

# Tutorials are stored without outputs and rendered as they are: executing them needs
# the demo data and minutes of CPU (tests/notebooks/ executes them).
nb_execution_mode = "off"
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Every internal reference must resolve (-n). References to third-party objects (numpy,
# pandas, traitlets …) cannot resolve without intersphinx, which needs the network: those
# are ignored; references into rarehub's own packages stay checked.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(?!analysis_lib\.|rarehub_hub\.).*"),
]

autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_google_docstring = False
napoleon_numpy_docstring = True

# Modules left out of the API reference (a module whose docstrings do not build cleanly
# while under development goes here, by full name, with a comment why).
rarehub_api_exclude: list[str] = []

# autodoc-traits warns (FutureWarning) about batchspawner's inherited config traits that
# have no help string; they are still listed, and are batchspawner's to fix.
warnings.filterwarnings(
    "ignore", message=r"\s*Documenting .* without a help string", category=FutureWarning
)
