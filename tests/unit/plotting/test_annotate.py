"""Lineage and caption travel with a figure through HoloViews and into Bokeh."""

from __future__ import annotations

from dataclasses import dataclass, field

import holoviews as hv
import numpy as np
import pytest

from analysis_lib.plotting import annotate, lineage_of

LINEAGE = {"data": "run-0042 sha256:ab12", "code": "rarehub 0.1.0", "image": "rarehub:test"}


def test_lineage_survives_opts_relabel_and_clone():
    curve = annotate(hv.Curve(np.arange(5)), lineage=LINEAGE, caption="five points", title="T")
    changed = curve.opts(color="red").relabel("other").clone()
    assert lineage_of(changed) == {"lineage": LINEAGE, "caption": "five points"}
    assert hv.Store.lookup_options("bokeh", changed, "plot").kwargs["title"] == "T"


def test_lineage_is_written_into_the_rendered_bokeh_figure():
    curve = annotate(hv.Curve(np.arange(5)), lineage=LINEAGE, caption="c")
    figure = hv.render(curve, backend="bokeh")
    assert {"rarehub_lineage": LINEAGE, "caption": "c"} in figure.tags


def test_lineage_taken_from_a_result_object():
    @dataclass
    class Result:
        lineage: dict = field(default_factory=lambda: dict(LINEAGE))

    curve = annotate(hv.Curve([1, 2]), lineage=Result())
    assert lineage_of(curve)["lineage"] == LINEAGE


def test_non_mapping_lineage_is_refused_with_its_type():
    with pytest.raises(TypeError, match="int"):
        annotate(hv.Curve([1, 2]), lineage=42)


def test_layout_and_dynamicmap_are_annotated_through_their_outputs():
    layout = annotate(hv.Curve([1, 2]) + hv.Scatter([3, 4]), lineage=LINEAGE, caption="two")
    assert all(lineage_of(leaf)["lineage"] == LINEAGE for leaf in layout)
    dmap = annotate(hv.DynamicMap(lambda: hv.Curve([1, 2])), lineage=LINEAGE, caption="dyn")
    assert lineage_of(dmap) == {"lineage": LINEAGE, "caption": "dyn"}


def test_unannotated_object_reports_empty_lineage():
    assert lineage_of(hv.Curve([1, 2])) == {"lineage": {}, "caption": ""}
