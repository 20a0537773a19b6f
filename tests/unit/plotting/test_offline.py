"""A plot displayed after ``notebook_extension()`` names no stylesheet on the internet."""

from __future__ import annotations

import json
import re

import holoviews as hv
import numpy as np
import panel as pn
import pytest
from panel.viewable import Viewable

from analysis_lib.plotting import energy_spectrum, notebook_extension
from analysis_lib.plotting.offline import _inline_stylesheets

# The URL of every Bokeh ImportedStyleSheet in a serialized document.
IMPORTED_URL = re.compile(r'ImportedStyleSheet\\?"[^}]*?\\?"url\\?":\\?"([^"\\]+)')
INLINE_CSS = re.compile(r'InlineStyleSheet\\?"[^}]*?\\?"css\\?":')


@pytest.fixture
def restore_panel_config():
    inline, hooks = pn.config.inline, list(Viewable._preprocessing_hooks)
    yield
    pn.config.inline = inline
    Viewable._preprocessing_hooks[:] = hooks


def notebook_output(obj) -> str:
    """What HoloViews sends to a notebook for ``obj`` (its display hook's mime bundle)."""
    data, _ = hv.renderer("bokeh").components(obj)
    return json.dumps(data)


def spectrum():
    return energy_spectrum(np.random.default_rng(1).uniform(0, 10, 100), bins=10)


def test_holoviews_alone_links_panel_stylesheets_on_its_cdn(restore_panel_config):
    # the problem being fixed: without it a plot asks cdn.holoviz.org for its styles
    pn.config.inline = False
    urls = IMPORTED_URL.findall(notebook_output(spectrum()))
    assert urls
    assert all(u.startswith("https://cdn.holoviz.org/panel/") for u in urls), urls


def test_notebook_extension_inlines_every_stylesheet(restore_panel_config):
    notebook_extension()
    notebook_extension()  # twice: one hook, still inline
    assert pn.config.inline
    assert Viewable._preprocessing_hooks.count(_inline_stylesheets) == 1
    out = notebook_output(spectrum())
    assert IMPORTED_URL.findall(out) == []
    # the same styles are there, as CSS text (Panel's loading spinner among them)
    assert len(INLINE_CSS.findall(out)) >= 4
    assert "pn-loading" in out


def test_hook_does_nothing_unless_inline_is_set(restore_panel_config):
    notebook_extension()
    pn.config.inline = False  # e.g. a Panel server in the same process
    urls = IMPORTED_URL.findall(notebook_output(spectrum()))
    assert any(u.startswith("https://cdn.holoviz.org/panel/") for u in urls), urls
