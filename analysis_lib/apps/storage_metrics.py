"""``GET /metrics`` of the storage monitor: the storage state in Prometheus text format.

Kept apart from :mod:`analysis_lib.apps.storage_monitor` (HoloViews, hvplot) so that the
monitor's server can answer — and be found up by the hub — before the app's plotting
libraries are imported.
"""

from __future__ import annotations

from pathlib import Path

import tornado.web

from analysis_lib.apps.storage import (
    Thresholds,
    catalog_storage,
    dataset_growth_rate,
    prometheus_metrics,
)
from analysis_lib.io.prometheus_text import CONTENT_TYPE


class MetricsHandler(tornado.web.RequestHandler):
    """``GET /metrics``: the storage state in Prometheus text format, read fresh per scrape."""

    def initialize(
        self,
        catalog_path: str | Path,
        thresholds: Thresholds | None = None,
    ) -> None:
        self.catalog_path = Path(catalog_path)
        self.thresholds = thresholds or Thresholds()

    def get(self) -> None:
        status, usage, growth = catalog_storage(self.catalog_path, self.thresholds)
        rate = dataset_growth_rate(growth, window_days=self.thresholds.window_days)
        self.set_header("Content-Type", CONTENT_TYPE)
        self.write(prometheus_metrics(status, usage, self.thresholds, growth_rate=rate))
