"""The Prometheus text exposition format (version 0.0.4), written by hand.

The storage and data-quality monitors and the archiver export a handful of metric families
each; this avoids a client library in the analysis image. Format reference: Prometheus docs,
"Exposition formats" (text-based format): ``# HELP``/``# TYPE`` lines, then one
``name{label="value",…} number`` line per sample; label values escape ``\\``, ``"`` and
newline; numbers may be ``NaN``, ``+Inf``, ``-Inf``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["CONTENT_TYPE", "metric_family"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_TYPES = ("gauge", "counter")


def _label(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def metric_family(
    name: str,
    help_: str,
    samples: Iterable[tuple[Mapping[str, Any], float]],
    *,
    type_: str = "gauge",
) -> list[str]:
    """The lines of one metric family: ``# HELP``, ``# TYPE`` and one line per sample.

    A counter's ``name`` must end in ``_total`` (OpenMetrics convention, which Prometheus
    client libraries follow).
    """
    if type_ not in _TYPES:
        raise ValueError(f"metric {name}: type {type_!r} is not one of {_TYPES}")
    if type_ == "counter" and not name.endswith("_total"):
        raise ValueError(f"counter {name} must end in _total")
    lines = [f"# HELP {name} {help_}", f"# TYPE {name} {type_}"]
    for labels, value in samples:
        text = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
        lines.append(f"{name}{{{text}}} {_number(value)}" if text else f"{name} {_number(value)}")
    return lines
