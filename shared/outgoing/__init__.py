"""Outgoing webhooks to producers: terminal events, signed with Standard Webhooks, retried on a schedule.

Public surface: ``emit_job_event``, ``emit_pipeline_event``, ``emit_bulk_event_if_done`` (record an event and hand
it to the workers), ``deliver`` (one attempt), ``check_callback_url`` (may hookline POST there?).
"""

from __future__ import annotations

from shared.net.callback_urls import check_callback_url, refusal_at_send
from shared.outgoing.delivery import (
    AttemptResult,
    AttemptStatus,
    deliver,
    delivery_json,
    enable_endpoint,
    signing_secret,
)
from shared.outgoing.events import (
    EVENT_TYPES,
    LOCAL_OWNER,
    emit_bulk_event_if_done,
    emit_job_event,
    emit_pipeline_event,
)

__all__ = [
    "EVENT_TYPES",
    "LOCAL_OWNER",
    "AttemptResult",
    "AttemptStatus",
    "check_callback_url",
    "deliver",
    "delivery_json",
    "emit_bulk_event_if_done",
    "emit_job_event",
    "emit_pipeline_event",
    "enable_endpoint",
    "refusal_at_send",
    "signing_secret",
]
