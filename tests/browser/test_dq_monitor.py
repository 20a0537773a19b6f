"""Data-quality monitor in Chromium: switch the metric, flag a run, the catalog records it."""

from __future__ import annotations

import pytest

from analysis_lib.apps import dq_monitor
from analysis_lib.catalog import Catalog


def test_switch_metric_and_flag_a_run(page, panel_serve, sample_catalog, bokeh_columns):
    server = panel_serve(dq_monitor, sample_catalog)
    page.goto(server.url)
    page.locator(".rh-suspicious").get_by_text("No run deviates").wait_for()

    page.locator(".rh-metric select").select_option("noise_adc")
    page.locator(".rh-suspicious").get_by_text("sample / run 3").wait_for()
    page.wait_for_function(
        "() => { for (const m of Bokeh.documents[0].all_models) {"
        " if (m.type === 'ColumnDataSource' && 'noise_adc' in m.data) return true; }"
        " return false; }"
    )
    noise = max(bokeh_columns(page, "noise_adc"), key=len)
    assert len(noise) == 3  # one point per run
    assert max(noise) == pytest.approx(16, rel=0.15)  # run 3: 4× the 4-ADC noise

    page.locator(".rh-run select").select_option(label="sample / run 3")
    page.locator(".rh-quality select").select_option("bad")
    page.locator(".rh-flags input").fill("noisy")
    page.locator(".rh-flags input").press("Enter")
    page.locator(".rh-apply button").click()
    page.locator(".rh-status").get_by_text("Set sample / run 3 to bad").wait_for()
    with Catalog.open(sample_catalog, create=False) as cat:
        run3 = cat.runs().set_index("run_number").loc[3]
    assert run3["quality"] == "bad"
    assert list(run3["dq_flags"]) == ["noisy"]
    assert page.blocked_urls == []
