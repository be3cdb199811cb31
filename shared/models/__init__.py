"""SQLAlchemy 2.0 models. ``from shared.models import Job`` is the way in; the package keeps one module per concern:

- ``base``: the declarative base, UTC datetimes, ``new_id`` and ``utcnow``;
- ``work``: jobs, upstream attempts (the ledger) and the daily totals of pruned ones, callbacks received, clips,
  artifacts, pipelines and their steps;
- ``producers``: API keys, idempotency records, bulk batches and lines, outgoing deliveries, disabled endpoints,
  the limiter's rate buckets, heartbeats, the beat lease, dashboard sessions and failed logins;
- ``outbox``: task messages written with the state change that calls for them, until the broker took them.

Schema changes go through Alembic (shared/migrations); tests check the two agree.
"""

from __future__ import annotations

from shared.models.base import NAMING, Base, UTCDateTime, new_id, utcnow
from shared.models.outbox import OutboxMessage
from shared.models.producers import (
    ApiKey,
    BeatLease,
    BulkBatch,
    BulkLine,
    DashboardSession,
    Delivery,
    DisabledEndpoint,
    Heartbeat,
    IdempotencyRecord,
    LoginFailure,
    RateBucket,
)
from shared.models.work import Artifact, Attempt, CallbackRecord, Clip, CostDay, Job, Pipeline, PipelineStep

__all__ = [
    "NAMING",
    "ApiKey",
    "Artifact",
    "Attempt",
    "Base",
    "BeatLease",
    "BulkBatch",
    "BulkLine",
    "CallbackRecord",
    "Clip",
    "CostDay",
    "DashboardSession",
    "Delivery",
    "DisabledEndpoint",
    "Heartbeat",
    "IdempotencyRecord",
    "Job",
    "LoginFailure",
    "OutboxMessage",
    "Pipeline",
    "PipelineStep",
    "RateBucket",
    "UTCDateTime",
    "new_id",
    "utcnow",
]
