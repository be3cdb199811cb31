"""SQLAlchemy 2.0 models: jobs, upstream attempts (the ledger), callbacks received, clips.

Schema changes go through Alembic (shared/migrations); tests check the two agree.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone, so store naive UTC and re-attach it)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UTCDateTime()}


class Job(Base):
    """One unit of upstream work, as the producer asked for it."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    operation: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    upstream_task_id: Mapped[str | None] = mapped_column(String(128), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[str | None] = mapped_column(String(16))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # When the reconciler should look at this job next (overdue callback, stuck queue): one indexed column.
    next_check_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    clips: Mapped[list[Clip]] = relationship(back_populates="job", order_by="Clip.position", cascade="all, delete-orphan")

    __table_args__ = (Index("ix_jobs_status_next_check", "status", "next_check_at"),)


class Attempt(Base):
    """One call we made upstream, paid or not: the ledger. Never holds a secret."""

    __tablename__ = "upstream_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("jobs.id"), index=True)
    attempt_no: Mapped[int | None] = mapped_column(Integer)
    operation: Mapped[str] = mapped_column(String(32))
    endpoint: Mapped[str] = mapped_column(String(32))
    request_summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    http_status: Mapped[int | None] = mapped_column(Integer)
    # pending | accepted | refused | rejected | ambiguous | ok | error
    outcome: Mapped[str] = mapped_column(String(16), default="pending")
    upstream_task_id: Mapped[str | None] = mapped_column(String(128))
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column()


class CallbackRecord(Base):
    """One inbound callback, accepted or not. The token is never stored."""

    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Not a foreign key: callbacks for unknown jobs are recorded too.
    job_id: Mapped[str | None] = mapped_column(String(64), index=True)
    attempt_no: Mapped[int | None] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(16))  # applied | duplicate | ignored | rejected
    reason: Mapped[str | None] = mapped_column(Text)
    upstream_status: Mapped[str | None] = mapped_column(String(16))
    http_status: Mapped[int] = mapped_column(Integer)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Clip(Base):
    """One clip a music task produced."""

    __tablename__ = "clips"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32), ForeignKey("jobs.id"))
    clip_id: Mapped[str] = mapped_column(String(128), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(16))
    audio_url: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(Text)
    image_large_url: Mapped[str | None] = mapped_column(Text)
    video_url: Mapped[str | None] = mapped_column(Text)
    duration: Mapped[float | None] = mapped_column(Float)
    model_name: Mapped[str | None] = mapped_column(String(64))
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    job: Mapped[Job] = relationship(back_populates="clips")

    __table_args__ = (UniqueConstraint("job_id", "clip_id", name="uq_clips_job_clip"),)
