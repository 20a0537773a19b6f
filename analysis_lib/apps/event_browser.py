"""Event browser: choose a run and an event, see its traces and features, step through cuts.

Serve with ``panel serve analysis_lib/apps/event_browser.py --args --catalog PATH`` or
``rarehub monitor events --catalog PATH``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import panel as pn

from analysis_lib.apps.rundata import RunData, RunDataError, load_run, run_options
from analysis_lib.catalog import Catalog
from analysis_lib.plotting import lineage_of, trace_viewer

ALL_EVENTS = "all events"


def cut_columns(features: pd.DataFrame) -> list[str]:
    """The boolean feature columns, each one a cut the browser can step through."""
    return [c for c in features.columns if pd.api.types.is_bool_dtype(features[c])]


def passing_events(features: pd.DataFrame, cut: str) -> np.ndarray:
    """Row indices of the events passing ``cut`` (every event for :data:`ALL_EVENTS`)."""
    if cut == ALL_EVENTS:
        return np.arange(len(features))
    if cut not in features.columns:
        raise KeyError(f"no cut {cut!r} (cuts: {cut_columns(features)})")
    return np.flatnonzero(features[cut].to_numpy(dtype=bool))


def create_app(catalog_path: str | Path) -> pn.Column:
    """Build the event browser for one session.

    Parameters
    ----------
    catalog_path
        The catalog database; runs with a RareHub raw file are listed.

    Returns
    -------
    panel.Column
        The app; ``app.parts`` maps roles (``run``, ``cut``, ``event``, ``previous``,
        ``next``, ``status``, ``caption``, ``features``, ``traces``) to its widgets and panes.
    """
    cat = Catalog.open(catalog_path, create=False)
    runs = cat.runs()
    options = run_options(runs)
    if not options:
        cat.close()
        return pn.Column(
            pn.pane.Alert(f"No runs in the catalog {catalog_path}.", alert_type="warning")
        )

    run_select = pn.widgets.Select(
        label="Run", options=list(options), width=260, css_classes=["rh-run"]
    )
    cut_select = pn.widgets.Select(
        label="Cut", options=[ALL_EVENTS], width=200, css_classes=["rh-cut"]
    )
    event_select = pn.widgets.Select(label="Event", options=[], width=120, css_classes=["rh-event"])
    previous = pn.widgets.Button(label="◀ previous", width=100, css_classes=["rh-previous"])
    following = pn.widgets.Button(label="next ▶", width=100, css_classes=["rh-next"])
    status = pn.pane.Markdown("", css_classes=["rh-status"])
    caption = pn.pane.Markdown("", css_classes=["rh-caption"])
    features_pane = pn.pane.DataFrame(pd.DataFrame(), index=True, width=320)
    plot_pane = pn.pane.HoloViews(None, sizing_mode="stretch_width", height=380)
    state: dict[str, object] = {"run": None}

    def current() -> RunData:
        return state["run"]  # type: ignore[return-value]

    def show_event(*_):
        run = current()
        if run is None or event_select.value is None:
            return
        row = int(event_select.value)
        traces = run.traces(row)
        lineage = {
            "data": f"{run.raw_path.name} event {row}",
            "catalog": str(Path(catalog_path).name),
            "run": f"{run.dataset}/{run.run_number}",
        }
        plot = trace_viewer(
            traces,
            sample_rate_Hz=run.sample_rate_Hz,
            channels=run.channels,
            value_unit="ADC",
            lineage=lineage,
            title=f"{run.dataset} run {run.run_number}, event {row}",
        )
        plot_pane.object = plot
        caption.object = f"*{lineage_of(plot)['caption']}*"
        features_pane.object = run.features.iloc[[row]].T.rename(columns={row: "value"})
        passing = list(event_select.options)
        k = passing.index(event_select.value) + 1
        status.object = (
            f"**{run.dataset} run {run.run_number}**: event {row} "
            f"({k} of {len(passing)} passing *{cut_select.value}*; {len(run.features)} in run)"
        )

    def refresh_events(*_):
        run = current()
        passing = passing_events(run.features, cut_select.value)
        event_select.options = [int(i) for i in passing]
        if len(passing):
            event_select.value = int(passing[0])
        else:
            plot_pane.object = None
            status.object = f"No event of run {run.run_number} passes *{cut_select.value}*."
        show_event()

    def choose_run(*_):
        dataset, number = options[run_select.value]
        try:
            state["run"] = load_run(cat, dataset, number)
        except RunDataError as e:
            state["run"] = None
            status.object = f"⚠ {e}"
            plot_pane.object = None
            return
        cuts = [ALL_EVENTS, *cut_columns(current().features)]
        if cut_select.value not in cuts:
            cut_select.value = ALL_EVENTS
        cut_select.options = cuts
        refresh_events()

    def step(delta: int):
        passing = list(event_select.options)
        if not passing:
            return
        i = passing.index(event_select.value) if event_select.value in passing else 0
        event_select.value = passing[(i + delta) % len(passing)]

    run_select.param.watch(choose_run, "value")
    cut_select.param.watch(refresh_events, "value")
    event_select.param.watch(show_event, "value")
    previous.on_click(lambda _: step(-1))
    following.on_click(lambda _: step(+1))
    choose_run()
    pn.state.on_session_destroyed(lambda _ctx: cat.close())

    controls = pn.Row(run_select, cut_select, event_select, previous, following)
    app = pn.Column(
        pn.pane.Markdown("## RareHub event browser"),
        controls,
        status,
        pn.Row(pn.Column(plot_pane, caption, sizing_mode="stretch_width"), features_pane),
        sizing_mode="stretch_width",
    )
    # For scripting and tests: the parts by role.
    app.parts = {
        "run": run_select,
        "cut": cut_select,
        "event": event_select,
        "previous": previous,
        "next": following,
        "status": status,
        "caption": caption,
        "features": features_pane,
        "traces": plot_pane,
    }
    return app


if __name__.startswith("bokeh"):  # run by `panel serve`
    from analysis_lib.apps._entry import script_args

    create_app(script_args(sys.argv[1:], __doc__).catalog).servable(title="RareHub events")
