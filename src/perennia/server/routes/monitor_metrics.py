"""GET /metrics: every monitor's latest window as Prometheus gauges, for scraping and alerting.

Gauges (see `perennia.monitoring.alerts.gauges`): `perennia_drift_score{model,feature,method}`,
`perennia_estimated_performance{model,metric}`, `perennia_realised_performance{model,metric}`
and `perennia_monitor_value{monitor,value}`. `model` is the monitor's registered model, else its
deployment, else its own name. Values not computable in the latest window are left out, as
Prometheus expects of a missing sample. With sign-in on, scrapers send a bearer token
(Prometheus' `authorization` setting).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from perennia.errors import InvalidInput
from perennia.server.access import Caller, caller_of
from perennia.server.routes.common import store_of
from perennia.store.base import ServerStore

router = APIRouter(tags=["monitors"])
log = logging.getLogger(__name__)


@router.get("/metrics")
def metrics(
    caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> Response:
    """Return the latest value of every monitored key in Prometheus' text format."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_LATEST

    from perennia.monitoring.alerts.gauges import MonitorCollector

    caller.signed_in()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MonitorCollector(lambda: latest_samples(store)))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def latest_samples(store: ServerStore) -> list[Any]:
    """Return the gauge samples of every monitor's newest recorded window."""
    from perennia.monitoring.alerts.gauges import gauge_samples

    samples: list[Any] = []
    token = None
    while True:
        page = store.monitors.list_monitors(page_token=token)
        for monitor in page.items:
            end = monitor.last_window_end_ms
            if end is None:
                continue
            points = store.monitors.list_points(monitor.name, since_ms=end)
            values = {p.key: p.value for p in points if p.window_end_ms == end}
            model = monitor.model_name or monitor.deployment or monitor.name
            for key, value in values.items():
                try:
                    samples += gauge_samples(model, monitor.name, {key: value})
                except InvalidInput:
                    # A key Prometheus' names cannot carry (a column name with spaces, say)
                    # is left out; one odd key must not take the whole scrape down.
                    log.debug("monitor %s: %s is not exported", monitor.name, key)
        token = page.next_page_token
        if not token:
            return samples
