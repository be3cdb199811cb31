"""GET /metrics in the Prometheus text format, computed from the database at scrape time (metrics_collector.py).

Open like /healthz: it carries counts, never ids, params or secrets. Restrict it at the network edge if wanted.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from shared.db import session_factory
from webhook.context import settings
from webhook.metrics_collector import HooklineCollector

metrics = Blueprint("metrics", __name__)

REGISTRY_KEY = "hookline.metrics_registry"


def registry() -> CollectorRegistry:
    """One registry per app, holding only our collector (no process metrics of whichever receiver answers)."""
    found = current_app.extensions.get(REGISTRY_KEY)
    if found is None:
        found = CollectorRegistry(auto_describe=False)
        found.register(HooklineCollector(settings(), session_factory(settings())))
        current_app.extensions[REGISTRY_KEY] = found
    return found


@metrics.get("/metrics")
def scrape() -> ResponseReturnValue:
    """The text format, or OpenMetrics when the scraper asks for it (Accept header), as prometheus-client decides."""
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encode(registry()), headers={"Content-Type": content_type})
