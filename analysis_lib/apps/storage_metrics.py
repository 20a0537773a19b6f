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
    """``GET /metrics``: the storage state in Prometheus text format, read fresh per scrape.

    With ``results`` (the root folder of stored processing results) the lifecycle plan's
    bytes per dataset and level (all, rebuildable, rebuildable and older than
    ``older_than_days``) are exported too.
    """

    def initialize(
        self,
        catalog_path: str | Path,
        thresholds: Thresholds | None = None,
        results: str | Path | None = None,
        older_than_days: float = 30.0,
    ) -> None:
        self.catalog_path = Path(catalog_path)
        self.thresholds = thresholds or Thresholds()
        self.results = Path(results) if results is not None else None
        self.older_than_days = older_than_days

    def get(self) -> None:
        status, usage, growth = catalog_storage(self.catalog_path, self.thresholds)
        rate = dataset_growth_rate(growth, window_days=self.thresholds.window_days)
        plan = None
        if self.results is not None:
            from analysis_lib.lifecycle.plan import plan_storage, summarize_plan

            plan = summarize_plan(
                plan_storage(self.catalog_path, self.results, verify_checksums=False),
                older_than_days=self.older_than_days,
            )
        self.set_header("Content-Type", CONTENT_TYPE)
        self.write(prometheus_metrics(status, usage, self.thresholds, growth_rate=rate, plan=plan))
