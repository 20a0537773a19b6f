"""Data-quality monitor: rates, baselines and noise over runs; flag runs in the catalog.

Serve with ``panel serve analysis_lib/apps/dq_monitor.py --args --catalog PATH`` or
``rarehub monitor dq --catalog PATH``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import holoviews as hv
import pandas as pd
import panel as pn

from analysis_lib.apps.rundata import dq_metrics, outlier_runs, run_label
from analysis_lib.catalog import QUALITIES, Catalog
from analysis_lib.plotting import annotate

METRICS = {
    "rate_Hz": ("Event rate", "Hz"),
    "baseline_adc": ("Baseline", "ADC"),
    "noise_adc": ("Baseline noise (RMS)", "ADC"),
}
QUALITY_COLORS = {"good": "#2ca02c", "bad": "#d62728", "unknown": "#7f7f7f"}


def metric_plot(metrics: pd.DataFrame, metric: str, channel: str, catalog: str) -> hv.Scatter:
    """One data-quality metric of one channel over runs, coloured by run quality."""
    if metric not in METRICS:
        raise KeyError(f"unknown metric {metric!r}; choose from {list(METRICS)}")
    label, unit = METRICS[metric]
    rows = metrics[metrics["channel"] == channel].copy()
    rows["start"] = rows["start_utc"].dt.tz_localize(None)  # Bokeh datetime axes are naive
    rows["run"] = [
        run_label(d, r) for d, r in zip(rows["dataset"], rows["run_number"], strict=True)
    ]
    scatter = hv.Scatter(
        rows,
        kdims=[hv.Dimension("start", label="Run start (UTC)")],
        vdims=[hv.Dimension(metric, label=label, unit=unit), "run", "quality"],
    ).opts(
        color="quality",
        cmap=QUALITY_COLORS,
        size=9,
        tools=["hover"],
        responsive=True,
        height=320,
        show_legend=True,
    )
    return annotate(
        scatter,
        lineage={"data": catalog, "runs": list(rows["run"])},
        caption=f"{label} of channel {channel} per run ({len(rows)} runs), coloured by quality.",
        title=f"{label} — {channel}",
    )


def create_app(catalog_path: str | Path, *, max_events: int = 100, n_mad: float = 5.0) -> pn.Column:
    """Build the data-quality monitor for one session.

    Parameters
    ----------
    catalog_path
        The catalog database; every run with a raw file is measured.
    max_events
        Events per run read for the baseline and noise (evenly spaced).
    n_mad
        Runs deviating by more than this many (scaled) MADs are listed as suspicious.

    Returns
    -------
    panel.Column
        The app; ``app.parts`` maps roles (``metric``, ``channel``, ``run``, ``quality``,
        ``flags``, ``apply``, ``plot``, ``table``, ``status``, ``suspicious``) to its parts.
    """
    cat = Catalog.open(catalog_path, create=False)
    state = {"metrics": dq_metrics(cat, max_events=max_events)}
    metrics = state["metrics"]
    if metrics.empty:
        cat.close()
        message = f"No runs with raw data in the catalog {catalog_path}."
        return pn.Column(pn.pane.Alert(message, alert_type="warning"))
    channels = sorted(metrics["channel"].unique())
    runs = list(
        dict.fromkeys(
            run_label(d, r) for d, r in zip(metrics["dataset"], metrics["run_number"], strict=True)
        )
    )
    keys = {
        run_label(d, r): (d, int(r))
        for d, r in zip(metrics["dataset"], metrics["run_number"], strict=True)
    }
    metric = pn.widgets.Select(label="Metric", options=list(METRICS), css_classes=["rh-metric"])
    channel = pn.widgets.Select(label="Channel", options=channels, css_classes=["rh-channel"])
    run = pn.widgets.Select(label="Run", options=runs, css_classes=["rh-run"])
    quality = pn.widgets.Select(
        label="Quality", options=list(QUALITIES), css_classes=["rh-quality"]
    )
    flags = pn.widgets.TextInput(
        label="Flags (comma-separated)", placeholder="e.g. noisy", css_classes=["rh-flags"]
    )
    apply = pn.widgets.Button(label="Set quality", color="primary", css_classes=["rh-apply"])
    status = pn.pane.Markdown("", css_classes=["rh-status"])
    suspicious = pn.pane.Markdown("", css_classes=["rh-suspicious"])
    plot = pn.pane.HoloViews(None, sizing_mode="stretch_width", height=340)
    table = pn.pane.DataFrame(pd.DataFrame(), index=False, sizing_mode="stretch_width")

    def redraw(*_):
        m = state["metrics"]
        plot.object = metric_plot(m, metric.value, channel.value, str(catalog_path))
        shown = m[m["channel"] == channel.value][
            ["dataset", "run_number", "quality", "dq_flags", "n_events", metric.value]
        ]
        table.object = shown
        odd = outlier_runs(m, metric.value, n_mad=n_mad)
        odd = odd[odd["channel"] == channel.value]
        suspicious.object = (
            "Suspicious runs ("
            + f"> {n_mad:g} MAD): "
            + ", ".join(
                run_label(d, r) for d, r in zip(odd["dataset"], odd["run_number"], strict=True)
            )
            if len(odd)
            else f"No run deviates by more than {n_mad:g} MAD."
        )

    def on_run(*_):
        m = state["metrics"]
        dataset, number = keys[run.value]
        row = m[(m["dataset"] == dataset) & (m["run_number"] == number)].iloc[0]
        quality.value = row["quality"]
        flags.value = ", ".join(row["dq_flags"])

    def on_apply(_):
        dataset, number = keys[run.value]
        names = [f.strip() for f in flags.value.split(",") if f.strip()]
        cat.set_quality(dataset, number, quality.value, names)
        m = state["metrics"]
        sel = (m["dataset"] == dataset) & (m["run_number"] == number)
        m.loc[sel, "quality"] = quality.value
        m.loc[sel, "dq_flags"] = pd.Series([list(names)] * int(sel.sum()), index=m.index[sel])
        status.object = (
            f"Set {run.value} to **{quality.value}**"
            + (f" with flags {', '.join(names)}" if names else "")
            + " in the catalog."
        )
        redraw()

    metric.param.watch(redraw, "value")
    channel.param.watch(redraw, "value")
    run.param.watch(on_run, "value")
    apply.on_click(on_apply)
    redraw()
    on_run()
    pn.state.on_session_destroyed(lambda _ctx: cat.close())
    app = pn.Column(
        pn.pane.Markdown("## RareHub data-quality monitor"),
        pn.Row(metric, channel),
        plot,
        suspicious,
        pn.Row(run, quality, flags, apply),
        status,
        table,
        sizing_mode="stretch_width",
    )
    app.parts = {
        "metric": metric,
        "channel": channel,
        "run": run,
        "quality": quality,
        "flags": flags,
        "apply": apply,
        "plot": plot,
        "table": table,
        "status": status,
        "suspicious": suspicious,
    }
    return app


if __name__.startswith("bokeh"):  # run by `panel serve`
    from analysis_lib.apps._entry import script_args

    create_app(script_args(sys.argv[1:], __doc__).catalog).servable(title="RareHub data quality")
