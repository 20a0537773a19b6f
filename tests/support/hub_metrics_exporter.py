"""Serve the hub's real metric objects on 127.0.0.1:PORT/hub/metrics, without a hub.

``python hub_metrics_exporter.py PORT``. Imports JupyterHub's metrics module and RareHub's
Slurm spawner (whose squeue metrics, in ``slurm_squeue``, register in the same default
registry, as in the hub), records a few spawns and queue waits, and serves them with
prometheus_client. This stands in for a running hub in the dashboard test, which checks
that each panel's query names real series with real labels; the hub itself (and its
read:metrics token) is exercised by tests/integration/hub/.
"""

from __future__ import annotations

import sys
import time
from http.server import ThreadingHTTPServer

import jupyterhub.metrics as hub_metrics
from prometheus_client import MetricsHandler

from rarehub_hub import slurm_spawner, slurm_squeue  # noqa: F401 (the hub imports both)


def main() -> None:
    port = int(sys.argv[1])
    hub_metrics.TOTAL_USERS.set(3)
    hub_metrics.RUNNING_SERVERS.set(2)
    for period in hub_metrics.ActiveUserPeriods:
        hub_metrics.ACTIVE_USERS.labels(period=period.value).set(2)
    ok = hub_metrics.SERVER_SPAWN_DURATION_SECONDS.labels(
        status=hub_metrics.ServerSpawnStatus.success,
        reason=hub_metrics.ServerSpawnFailureReason.none,
    )
    for seconds in (4.0, 6.5, 9.0):
        ok.observe(seconds)
    for seconds in (1.5, 3.0):
        slurm_squeue.QUEUE_WAIT.observe(seconds)
    slurm_squeue.SQUEUE_CALLS.inc(10)
    server = ThreadingHTTPServer(("127.0.0.1", port), MetricsHandler)
    while True:  # a scrape a second; counters tick so rate() panels see change
        server.handle_request()
        slurm_squeue.SQUEUE_CALLS.inc()
        time.sleep(0)


if __name__ == "__main__":
    main()
