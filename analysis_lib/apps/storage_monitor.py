"""Storage monitor: usage per dataset and volume, fill rate, days-to-full, alerts.

Serve with ``panel serve analysis_lib/apps/storage_monitor.py --args --catalog PATH``, or
with the Prometheus route ``/metrics`` via ``rarehub monitor storage --catalog PATH``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import holoviews as hv
import hvplot.pandas  # noqa: F401  (the .hvplot accessor on DataFrames)
import pandas as pd
import panel as pn

from analysis_lib.apps.storage import Thresholds, catalog_storage
from analysis_lib.plotting import annotate

ALL = "all datasets"
GiB = 2**30


def usage_plot(usage: pd.DataFrame, catalog: str) -> hv.Bars:
    """Catalogued GiB per dataset, stacked by volume (an hvplot bar chart of the table)."""
    data = usage.assign(size_GiB=usage["size_bytes"] / GiB)
    bars = data.hvplot.bar(
        x="dataset",
        y="size_GiB",
        by="volume",
        stacked=True,
        hover_cols=["n_files"],
        ylabel="Catalogued size (GiB)",
        responsive=True,
        height=280,
        rot=20,
    )
    return annotate(
        bars,
        lineage={"data": catalog},
        caption=f"Catalogued size of {data['dataset'].nunique()} dataset(s) by volume.",
        title="Usage per dataset",
    )


def growth_plot(growth: pd.DataFrame, dataset: str, catalog: str) -> hv.NdOverlay:
    """Cumulative catalogued GiB per volume over time (one dataset or all), as steps."""
    g = growth if dataset == ALL else growth[growth["dataset"] == dataset]
    daily = g.groupby(["volume", "day"], as_index=False)["bytes_added"].sum()
    daily = daily.sort_values(["volume", "day"], ignore_index=True)
    daily["day"] = daily["day"].dt.tz_localize(None)  # Bokeh datetime axes are naive UTC
    daily["cumulative_GiB"] = daily.groupby("volume")["bytes_added"].cumsum() / GiB
    steps = daily.hvplot.step(
        x="day",
        y="cumulative_GiB",
        by="volume",
        where="post",
        xlabel="Day (UTC)",
        ylabel="Catalogued (GiB)",
        responsive=True,
        height=280,
    )
    return annotate(
        steps,
        lineage={"data": catalog, "dataset": dataset},
        caption=f"Cumulative catalogued data of {dataset} per volume.",
        title=f"Growth — {dataset}",
    )


def _status_table(status: pd.DataFrame) -> pd.DataFrame:
    t = status.copy()
    for c in ("total_bytes", "used_bytes", "free_bytes", "catalog_bytes"):
        t[c.replace("_bytes", "_GiB")] = (t.pop(c) / GiB).round(3)
    t["fill_rate_GiB_per_day"] = (t.pop("fill_rate_bytes_per_day") / GiB).round(4)
    t["used_fraction"] = t["used_fraction"].round(3)
    t["days_to_full"] = t["days_to_full"].round(1)
    return t


def create_app(
    catalog_path: str | Path,
    *,
    thresholds: Thresholds | None = None,
    refresh_s: float = 0,
    results: str | Path | None = None,
    older_than_days: float = 30.0,
) -> pn.Column:
    """Build the storage monitor for one session.

    Parameters
    ----------
    catalog_path
        The catalog database.
    thresholds
        Alert thresholds (used space, days to full) and the fill-rate window
        (default :class:`~analysis_lib.apps.storage.Thresholds`).
    refresh_s
        Re-read the catalog and file systems every ``refresh_s`` seconds (0: only on the
        *Refresh* button).
    results
        Root folder of stored processing results: the app then shows the lifecycle plan
        (``rarehub storage plan``): how many bytes lineage can rebuild, per dataset and
        level, and how many of those are older than ``older_than_days``.
    older_than_days
        Age (days since last modification) from which rebuildable results count as
        deletion candidates.

    Returns
    -------
    panel.Column
        The app; ``app.parts`` maps roles (``dataset``, ``refresh``, ``alerts``, ``volumes``,
        ``usage``, ``growth``, ``plan``) to its parts.
    """
    catalog = str(catalog_path)
    thresholds = thresholds or Thresholds()
    dataset = pn.widgets.Select(label="Dataset", options=[ALL], css_classes=["rh-dataset"])
    refresh = pn.widgets.Button(label="Refresh", css_classes=["rh-refresh"])
    alerts = pn.pane.Markdown("", css_classes=["rh-alerts"])
    volumes = pn.pane.DataFrame(pd.DataFrame(), index=False, sizing_mode="stretch_width")
    usage_pane = pn.pane.HoloViews(None, sizing_mode="stretch_width", height=300)
    growth_pane = pn.pane.HoloViews(None, sizing_mode="stretch_width", height=300)
    plan_text = pn.pane.Markdown("", css_classes=["rh-plan"], visible=results is not None)
    plan_table = pn.pane.DataFrame(
        pd.DataFrame(), index=False, sizing_mode="stretch_width", visible=results is not None
    )
    state: dict[str, pd.DataFrame] = {}

    def draw_growth(*_):
        growth_pane.object = growth_plot(state["growth"], dataset.value, catalog)

    def reload(*_):
        status, usage, growth = catalog_storage(catalog_path, thresholds)
        state.update(status=status, usage=usage, growth=growth)
        names = [ALL, *sorted(usage["dataset"].unique())]
        dataset.options = names
        if dataset.value not in names:
            dataset.value = ALL
        volumes.object = _status_table(status)
        usage_pane.object = usage_plot(usage, catalog)
        lines = [
            f"- **{r.alert.upper()}** `{r.volume}`: {r.reason}"
            for r in status.itertuples()
            if r.alert != "ok"
        ]
        alerts.object = "\n".join(lines) if lines else "All volumes OK."
        draw_growth()
        if results is not None:
            from analysis_lib.lifecycle.plan import (
                human_bytes,
                plan_headline,
                plan_storage,
                summarize_plan,
            )

            summary = summarize_plan(
                plan_storage(catalog_path, results, verify_checksums=False),
                older_than_days=older_than_days,
            )
            plan_text.object = (
                f"**{plan_headline(summary, older_than_days=older_than_days)}** — "
                "`rarehub storage free --rebuildable "
                f"--older-than {older_than_days:g}d` lists them."
            )
            shown = summary.copy()
            for c in ("bytes", "rebuildable_bytes", "rebuildable_old_bytes"):
                shown[c] = shown[c].map(human_bytes)
            plan_table.object = shown

    dataset.param.watch(draw_growth, "value")
    refresh.on_click(reload)
    reload()
    if refresh_s > 0:
        pn.state.add_periodic_callback(reload, period=int(refresh_s * 1000))
    app = pn.Column(
        pn.pane.Markdown("## RareHub storage monitor"),
        pn.Row(dataset, refresh),
        alerts,
        volumes,
        pn.Row(usage_pane, growth_pane, sizing_mode="stretch_width"),
        plan_text,
        plan_table,
        sizing_mode="stretch_width",
    )
    app.parts = {
        "dataset": dataset,
        "refresh": refresh,
        "alerts": alerts,
        "volumes": volumes,
        "usage": usage_pane,
        "growth": growth_pane,
        "plan": plan_text,
    }
    return app


if __name__.startswith("bokeh"):  # run by `panel serve`
    from analysis_lib.apps._entry import script_args

    create_app(script_args(sys.argv[1:], __doc__).catalog).servable(title="RareHub storage")
