"""Plots in a notebook with no route to the internet: every script and stylesheet inline.

Clusters and hubs are often offline. ``hv.extension("bokeh", inline=True)`` sends BokehJS
and Panel's JavaScript from the kernel, but each plot HoloViews displays still names four
of Panel's stylesheets (loading spinner, layout, design theme) by their URL on
cdn.holoviz.org: HoloViews renders static plots through ``panel.io.notebook.render_model``,
which does not apply ``pn.config.inline`` (Panel applies it only when it displays an object
itself; upstream: holoviz/panel#7073, #8707). The browser then asks the CDN, and offline it
waits and draws the plot without its styles.
"""

from __future__ import annotations

from typing import Any

__all__ = ["notebook_extension"]


def _inline_stylesheets(viewable: Any, root: Any) -> None:
    """Panel preprocessing hook: stylesheets from Panel's CDN → the same CSS, inline.

    Acts only while ``pn.config.inline`` is set, so Panel servers in the same process keep
    serving their stylesheets as files.
    """
    import panel as pn
    from bokeh.models import UIElement
    from panel.io.notebook import patch_inline_stylesheets

    if not pn.config.inline:
        return
    for model in root.select({"type": UIElement}):
        patch_inline_stylesheets(model)


def notebook_extension() -> None:
    """Load HoloViews' Bokeh backend for a notebook that works without the internet.

    Equivalent to ``hv.extension("bokeh", inline=True)`` plus ``pn.config.inline = True``,
    and makes the plots HoloViews displays carry Panel's stylesheets inline instead of as
    links to cdn.holoviz.org. Call it once, where a notebook would call ``hv.extension``;
    calling it again does no harm.

    Examples
    --------
    >>> from analysis_lib.plotting import notebook_extension
    >>> notebook_extension()  # doctest: +SKIP
    """
    import holoviews as hv
    import panel as pn
    from panel.viewable import Viewable

    pn.config.inline = True
    # Panel calls every hook in this list on each root model it renders (layouts included),
    # before HoloViews serializes it: the one place that sees every displayed plot.
    if _inline_stylesheets not in Viewable._preprocessing_hooks:
        Viewable._preprocessing_hooks.append(_inline_stylesheets)
    hv.extension("bokeh", inline=True)
