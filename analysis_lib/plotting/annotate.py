"""Lineage and caption for every figure, kept in the figure itself.

The lineage (which data, which code, which image made the picture) and a short caption are
stored as a Bokeh ``tags`` entry through HoloViews' ``backend_opts``. HoloViews keeps
options with the object's id, so they survive ``.opts()``, ``.relabel()`` and ``.clone()``;
Bokeh writes ``tags`` into the rendered document, so a figure saved to HTML (or served by
Panel) still names what it shows. :func:`lineage_of` reads the record back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import holoviews as hv

TAG_KEY = "rarehub_lineage"
# Layout-like containers take no plot options of their own: their leaves are annotated.
_CONTAINERS = (hv.Layout, hv.NdLayout, hv.GridSpace)


def _as_lineage(lineage: Any) -> dict[str, Any]:
    """A JSON-safe lineage dict from a mapping or from an object with a ``lineage`` attribute."""
    if lineage is None:
        return {}
    if not isinstance(lineage, Mapping):
        inner = getattr(lineage, "lineage", None)
        if inner is None:
            raise TypeError(
                "lineage must be a mapping or have a .lineage mapping, "
                f"got {type(lineage).__name__}"
            )
        lineage = inner() if callable(inner) else inner
        if not isinstance(lineage, Mapping):
            raise TypeError(f".lineage must be a mapping, got {type(lineage).__name__}")
    # Round-trip through JSON: what cannot be written into a saved figure is refused now.
    try:
        return json.loads(json.dumps(dict(lineage), default=str))
    except (TypeError, ValueError) as e:  # pragma: no cover - default=str makes this rare
        raise TypeError(f"lineage is not JSON-serialisable: {e}") from e


def annotate(
    obj: hv.core.Dimensioned,
    *,
    lineage: Any = None,
    caption: str = "",
    title: str | None = None,
) -> hv.core.Dimensioned:
    """Attach lineage, a caption and optionally a title to a HoloViews object.

    Parameters
    ----------
    obj
        Any HoloViews element, overlay, DynamicMap or layout.
    lineage
        A mapping such as ``{"data": "run 42 sha256:…", "code": "rarehub 0.1.0",
        "image": "rarehub:2026.11"}``, or an object (a processing result) with a ``lineage``
        mapping attribute. Values must be JSON-serialisable (others are stored as ``str``).
    caption
        One or two sentences saying what the figure shows.
    title
        Figure title; left unchanged when ``None``.

    Returns
    -------
    holoviews object
        ``obj`` itself (options are set in place), for chaining.
    """
    if isinstance(obj, _CONTAINERS):
        for leaf in obj:
            annotate(leaf, lineage=lineage, caption=caption)
        if title is not None:
            obj.opts(title=title)
        return obj
    opts = annotation_options(lineage, caption)
    if title is not None:
        opts["title"] = title
    obj.opts(**opts, backend="bokeh")
    return obj


def annotation_options(lineage: Any = None, caption: str = "") -> dict[str, Any]:
    """The Bokeh options :func:`annotate` sets, to merge into one's own ``.opts()`` call.

    For figures redrawn many times (DynamicMap callbacks), one ``.opts()`` per frame
    instead of two.
    """
    record = {TAG_KEY: _as_lineage(lineage), "caption": str(caption)}
    return {"backend_opts": {"plot.tags": [record]}}


def lineage_of(obj: hv.core.Dimensioned) -> dict[str, Any]:
    """Read back what :func:`annotate` stored.

    Parameters
    ----------
    obj
        A HoloViews object (for a layout, its first annotated leaf is read; for a
        DynamicMap, its last output, evaluated now if it has none yet).

    Returns
    -------
    dict
        ``{"lineage": {...}, "caption": "..."}``; empty mapping and caption when the
        object was never annotated.
    """
    if isinstance(obj, _CONTAINERS):
        for leaf in obj:
            found = lineage_of(leaf)
            if found["lineage"] or found["caption"]:
                return found
        return {"lineage": {}, "caption": ""}
    if isinstance(obj, hv.DynamicMap):
        # Options of a DynamicMap are applied to what it yields: read them from an output
        # (the last one drawn, else one evaluated now at the streams' current values).
        return lineage_of(obj.last if obj.last is not None else obj[()])
    kwargs = hv.Store.lookup_options("bokeh", obj, "plot").kwargs
    for tag in kwargs.get("backend_opts", {}).get("plot.tags", []):
        if isinstance(tag, Mapping) and TAG_KEY in tag:
            return {"lineage": dict(tag[TAG_KEY]), "caption": tag.get("caption", "")}
    return {"lineage": {}, "caption": ""}
