"""Event browser in Chromium: choose a run, the traces update; step to the next event."""

from __future__ import annotations

from analysis_lib.apps import event_browser
from analysis_lib.io.raw import RawFile


def trace_of(catalog, run: int, event: int, channel: int) -> list[float]:
    with RawFile(catalog.parent / f"raw_run{run:04d}.h5") as raw:
        return raw.event(event)[channel].astype(float).tolist()


def test_choose_run_and_step_through_events(page, panel_serve, sample_catalog, bokeh_columns):
    server = panel_serve(event_browser, sample_catalog)
    page.goto(server.url)
    status = page.locator(".rh-status")
    status.get_by_text("sample run 1").wait_for()
    assert trace_of(sample_catalog, 1, 0, 0) in bokeh_columns(page, "amplitude")

    page.locator(".rh-run select").select_option(label="sample / run 3")
    status.get_by_text("sample run 3").wait_for()
    page.wait_for_function(
        "(want) => { for (const m of Bokeh.documents[0].all_models) {"
        " if (m.type === 'ColumnDataSource' && 'amplitude' in m.data &&"
        " m.data.amplitude[0] === want) return true; } return false; }",
        arg=trace_of(sample_catalog, 3, 0, 1)[0],
    )
    assert trace_of(sample_catalog, 3, 0, 1) in bokeh_columns(page, "amplitude")

    page.locator(".rh-cut select").select_option(label="cut_energy")
    status.get_by_text("passing cut_energy").wait_for()
    page.locator(".rh-next button").click()
    status.get_by_text("2 of").wait_for()
    event = int(page.locator(".rh-event select").input_value())
    assert event > 0
    page.wait_for_function(
        "(want) => { for (const m of Bokeh.documents[0].all_models) {"
        " if (m.type === 'ColumnDataSource' && 'amplitude' in m.data &&"
        " m.data.amplitude.length === want.length &&"
        " m.data.amplitude.every((v, i) => v === want[i])) return true; } return false; }",
        arg=trace_of(sample_catalog, 3, event, 0),
    )
    assert page.blocked_urls == []  # the app loads nothing from outside the machine
