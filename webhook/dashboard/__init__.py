"""The operator dashboard under /ui: jobs, pipelines, costs and health, server-rendered (Jinja, no build step).

Public surface: ``dashboard``, the blueprint to register on the receiver (``app.register_blueprint(dashboard)``).
"""

from __future__ import annotations

from webhook.dashboard import (  # noqa: F401 - routes
    auth,
    cost_pages,
    error_pages,
    health_page,
    job_pages,
    pipeline_pages,
)
from webhook.dashboard.blueprint import dashboard

__all__ = ["dashboard"]
