"""``GET /metrics`` of the data-quality monitor: runs per dataset and quality.

An alert on newly flagged bad runs compares ``rarehub_dq_runs{quality="bad"}`` with its
recent minimum (``deploy/monitoring/rules/rarehub.rules.yml``). Every dataset exports every
quality (zero included), so a dataset's first bad run is a change, not a new series.
"""

from __future__ import annotations

from pathlib import Path

import tornado.web

from analysis_lib.catalog import QUALITIES, Catalog
from analysis_lib.io.prometheus_text import CONTENT_TYPE, metric_family


def dq_prometheus_metrics(catalog_path: str | Path) -> str:
    """Runs per (dataset, quality) of a catalog, in Prometheus text format."""
    with Catalog.open(catalog_path, create=False) as cat:
        names = list(cat.datasets()["dataset"])
        runs = cat.runs()
    counts = runs.groupby(["dataset", "quality"]).size() if len(runs) else {}
    samples = [
        ({"dataset": d, "quality": q}, float(counts.get((d, q), 0)))
        for d in names
        for q in QUALITIES
    ]
    lines = metric_family(
        "rarehub_dq_runs",
        "Runs per dataset and data-quality verdict (good, bad, unknown).",
        samples,
    )
    return "\n".join(lines) + "\n"


class DQMetricsHandler(tornado.web.RequestHandler):
    """``GET /metrics``: :func:`dq_prometheus_metrics`, read fresh per scrape."""

    def initialize(self, catalog_path: str | Path) -> None:
        self.catalog_path = Path(catalog_path)

    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE)
        self.write(dq_prometheus_metrics(self.catalog_path))
