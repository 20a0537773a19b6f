"""Cut-flow: events surviving each successive cut, with efficiencies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import holoviews as hv
import numpy as np
import pandas as pd

from .annotate import annotate


def cut_flow(
    counts: Mapping[str, int] | pd.DataFrame,
    *,
    cut: str = "cut",
    passed: str = "n_pass",
    logy: bool = False,
    lineage: Any = None,
    caption: str | None = None,
    **kwds: Any,
) -> hv.Overlay:
    """Bar chart of the number of events left after each cut, applied in order.

    Parameters
    ----------
    counts
        Ordered mapping cut name → events passing it and all earlier cuts (the first entry
        is usually ``"all"``), or a table with columns ``cut`` and ``passed``.
    cut, passed
        Column names for table input.
    logy
        Logarithmic y axis.
    lineage, caption
        Passed to :func:`analysis_lib.plotting.annotate.annotate`.
    **kwds
        Further ``Bars`` options.

    Returns
    -------
    holoviews.Overlay
        ``Bars`` (kdim ``cut``, vdims ``n_pass``, ``efficiency``, ``cumulative``) ×
        ``Labels`` showing the per-cut efficiency in percent.
    """
    if isinstance(counts, pd.DataFrame):
        missing = [c for c in (cut, passed) if c not in counts.columns]
        if missing:
            raise KeyError(f"cut-flow table lacks columns {missing} (has {list(counts.columns)})")
        names = [str(c) for c in counts[cut]]
        n = counts[passed].to_numpy()
    else:
        names = [str(c) for c in counts]
        n = np.asarray(list(counts.values()))
    if n.size == 0:
        raise ValueError("empty cut-flow")
    n = n.astype(np.int64)
    if np.any(n < 0) or np.any(np.diff(n) > 0):
        raise ValueError(f"cut-flow counts must be ≥ 0 and non-increasing, got {n.tolist()}")
    previous = np.concatenate([[n[0]], n[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        eff = np.where(previous > 0, n / previous, np.nan)
        cumulative = np.where(n[0] > 0, n / n[0], np.nan)
    table = pd.DataFrame({"cut": names, "n_pass": n, "efficiency": eff, "cumulative": cumulative})
    bars = hv.Bars(table, kdims=["cut"], vdims=["n_pass", "efficiency", "cumulative"])
    bars = bars.opts(logy=logy, tools=["hover"], xrotation=30, **kwds)
    text = [f"{100 * e:.1f} %" if np.isfinite(e) else "" for e in eff]
    labels = hv.Labels((names, n, text), kdims=["cut", "n_pass"], vdims=["text"])
    labels = labels.opts(text_baseline="bottom", text_font_size="9pt")
    overlay = (bars * labels).opts(logy=logy)
    if caption is None:
        caption = (
            f"Cut-flow: {n[0]} → {n[-1]} events over {len(names) - 1} cut(s); "
            "labels give each cut's efficiency relative to the previous step."
        )
    return annotate(overlay, lineage=lineage, caption=caption)
