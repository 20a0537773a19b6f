"""Storage monitor served by ``rarehub monitor``: the page, a dataset choice, /metrics."""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

from analysis_lib.catalog import Catalog


def test_page_and_metrics_route(page, rarehub_monitor, sample_catalog):
    server = rarehub_monitor("storage", sample_catalog, "--prefix", "/services/storage")
    with Catalog.open(sample_catalog, create=False) as cat:
        files = cat.files()

    text = requests.get(f"{server.url}/metrics", timeout=30).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = families["rarehub_storage_dataset_bytes"].samples
    assert {s.labels["dataset"]: s.value for s in samples} == {
        "sample": float(files["size_bytes"].sum())
    }
    assert families["rarehub_storage_volume_free_bytes"].samples[0].value > 0

    page.goto(f"{server.url}/")
    page.locator(".rh-alerts").get_by_text("OK").or_(
        page.locator(".rh-alerts").get_by_text("WARNING")
    ).or_(page.locator(".rh-alerts").get_by_text("CRITICAL")).first.wait_for()
    title_shown = (
        "(text) => { for (const m of Bokeh.documents[0].all_models) {"
        " if (m.type === 'Title' && m.text === text) return true; } return false; }"
    )
    page.wait_for_function(title_shown, arg="Growth — all datasets")
    page.locator(".rh-dataset select").select_option("sample")
    page.wait_for_function(title_shown, arg="Growth — sample")
    assert page.blocked_urls == []
