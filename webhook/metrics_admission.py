"""The admission step's metrics (``shared.admission``), read from the rows at scrape time like the rest of
``webhook.metrics_collector``: jobs waiting for admission by priority and owner, how long jobs waited to be
admitted (the admission latency), the in-flight count against the cap, and the last step's own duration."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy.orm import Session

from shared.admission.views import admission_state, queue_depths

WAIT_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0)


def admission_gauges(session: Session) -> Iterator[Metric]:
    """Queue depths and the last step's figures (the wait histogram is built with the collector's others)."""
    depth = GaugeMetricFamily("hookline_queue_depth", "Jobs waiting for admission (queued rows with no broker "
                              "message), by priority and owner (API key id, or local).", labels=["priority", "owner"])
    for priority, owner, n in queue_depths(session):
        depth.add_metric([priority, owner], n)
    yield depth
    state = admission_state(session)
    if state:
        yield GaugeMetricFamily("hookline_admitted_in_flight", "Jobs admitted and not finished, at the last "
                                "admission step (what HOOKLINE_MAX_IN_FLIGHT caps).", value=state.get("in_flight", 0))
        yield GaugeMetricFamily("hookline_admission_step_seconds", "How long the last admission step took.",
                                value=state.get("step_seconds", 0.0))
