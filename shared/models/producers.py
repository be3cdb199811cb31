"""The producers' side and the process bookkeeping: API keys, idempotency, bulk batches, outgoing deliveries,
the limiter's buckets, heartbeats, dashboard sessions and failed-login counts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, new_id, utcnow


class ApiKey(Base):
    """A producer's key: stored hashed; its webhook secret is derived, never stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(128))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    budget_usd_per_day: Mapped[float | None] = mapped_column(Float)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Admission limits of this key's work (None: only the global ones) and the priority its single jobs get.
    max_in_flight: Mapped[int | None] = mapped_column(Integer)
    rate: Mapped[float | None] = mapped_column(Float)  # submits per second
    default_priority: Mapped[int | None] = mapped_column(Integer)


class IdempotencyRecord(Base):
    """An Idempotency-Key of one owner: claimed (``in_progress``, since ``claimed_at``) while its request runs, then
    ``done`` with the first 2xx response, replayed for the same key (see ``webhook.api.idempotency``)."""

    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    api_key_id: Mapped[str] = mapped_column(String(32), default="")
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="done", server_default="done")  # in_progress | done
    claimed_at: Mapped[datetime | None] = mapped_column()  # taken or last renewed; a stale claim expires
    status_code: Mapped[int | None] = mapped_column(Integer)  # None while in progress
    response: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("api_key_id", "key", name="uq_idempotency_owner_key"),)


class BulkBatch(Base):
    """One bulk file run; its lines become jobs or pipelines."""

    __tablename__ = "bulk_batches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str | None] = mapped_column(String(255))
    api_key_id: Mapped[str | None] = mapped_column(String(32), index=True)
    callback_url: Mapped[str | None] = mapped_column(Text)
    total: Mapped[int] = mapped_column(Integer, default=0)
    priority: Mapped[int | None] = mapped_column(Integer)  # its jobs' admission priority; None: bulk
    finished_event_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BulkLine(Base):
    """A line accepted from a bulk file, by its key: re-running the file skips accepted keys."""

    __tablename__ = "bulk_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(32), default="")  # api key id, "" for the local CLI
    key: Mapped[str] = mapped_column(String(255))
    bulk_id: Mapped[str] = mapped_column(String(32), ForeignKey("bulk_batches.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    job_id: Mapped[str | None] = mapped_column(String(32))
    pipeline_id: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (UniqueConstraint("owner", "key", name="uq_bulk_lines_owner_key"),)


class Delivery(Base):
    """One outgoing webhook event to a producer and its delivery attempts (Standard Webhooks)."""

    __tablename__ = "deliveries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    msg_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(32))
    api_key_id: Mapped[str | None] = mapped_column(String(32), index=True)
    target_url: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # a shared.states.DeliveryStatus
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_http_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_deliveries_status_next", "status", "next_attempt_at"),)


class DisabledEndpoint(Base):
    """A producer endpoint that answered 410 Gone: no more deliveries to it."""

    __tablename__ = "disabled_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target_url: Mapped[str] = mapped_column(Text, unique=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RateBucket(Base):
    """Token bucket and in-flight counter for the global upstream limiter on the embedded default (no Redis)."""

    __tablename__ = "rate_buckets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float, default=0.0)
    rate: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[float] = mapped_column(Float, default=0.0)  # monotonic-free: unix seconds
    penalty_until: Mapped[float] = mapped_column(Float, default=0.0)


class Heartbeat(Base):
    """Last-seen marks: workers, the last reconcile sweep (for the health page and metrics)."""

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class BeatLease(Base):
    """The scheduler lock: the one beat process whose lease has not expired sends the periodic tasks; another beat
    waits as a standby and takes the lease over once it lapses (``worker.beat_lock``)."""

    __tablename__ = "beat_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column()


class DashboardSession(Base):
    """One dashboard login. The signed cookie carries a random session id; the row holds only its SHA-256, and
    logging out deletes the row, so a copied cookie stops working on every receiver (``webhook.dashboard.sessions``)."""

    __tablename__ = "dashboard_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    api_key_id: Mapped[str | None] = mapped_column(String(32))  # None: the operator
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginFailure(Base):
    """Failed dashboard logins of one source address or one account in the current window (the login throttle)."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)  # "source:<address>" or "account:<…>"
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[float] = mapped_column(Float, default=0.0)  # unix seconds of the window's first failure
