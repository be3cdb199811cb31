"""GET /metrics in the Prometheus text format, computed from the database at scrape time (metrics_collector.py).

Open like /healthz by default. It carries counts and spend per key id, never params or secrets; set
HOOKLINE_METRICS_TOKEN to require ``Authorization: Bearer <token>`` (401 otherwise, compared in constant time).
"""

from __future__ import annotations

import hmac

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


def bearer_token_ok(expected: str, header: str) -> bool:
    """``header`` is ``Bearer <expected>``; the token is compared in constant time and never logged."""
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


@metrics.get("/metrics")
def scrape() -> ResponseReturnValue:
    """The text format, or OpenMetrics when the scraper asks for it (Accept header), as prometheus-client decides."""
    token = settings().metrics_token
    if token and not bearer_token_ok(token, request.headers.get("Authorization", "")):
        return Response("a metrics token is required: Authorization: Bearer <HOOKLINE_METRICS_TOKEN>\n", 401,
                        {"WWW-Authenticate": 'Bearer realm="metrics"', "Content-Type": "text/plain"})
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encode(registry()), headers={"Content-Type": content_type})
