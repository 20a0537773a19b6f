"""The hand-written Prometheus text format parses with the reference client's parser."""

from __future__ import annotations

import math

import pytest
from prometheus_client.parser import text_string_to_metric_families

from analysis_lib.io.prometheus_text import metric_family


def test_families_round_trip_through_the_reference_parser():
    lines = metric_family(
        "x_bytes", "Bytes.", [({"path": 'a "b"\\c\nd'}, 1.5), ({"path": "e"}, math.inf)]
    )
    lines += metric_family("x_events_total", "Events.", [({}, 7)], type_="counter")
    lines += metric_family("x_ratio", "Ratio.", [({}, math.nan)])
    families = {f.name: f for f in text_string_to_metric_families("\n".join(lines) + "\n")}
    got = {s.labels["path"]: s.value for s in families["x_bytes"].samples}
    assert got == {'a "b"\\c\nd': 1.5, "e": math.inf}
    assert families["x_events"].type == "counter"  # the parser strips _total from the family
    assert families["x_events"].samples[0].value == 7
    assert math.isnan(families["x_ratio"].samples[0].value)


def test_a_counter_must_end_in_total_and_types_are_checked():
    with pytest.raises(ValueError, match="must end in _total"):
        metric_family("x_events", "Events.", [], type_="counter")
    with pytest.raises(ValueError, match="histogram"):
        metric_family("x", "X.", [], type_="histogram")
