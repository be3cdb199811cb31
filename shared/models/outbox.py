"""The transactional outbox: a message that must be published is first a row, committed with the state change
that calls for it (``shared.outbox`` writes, relays and republishes these rows)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, new_id, utcnow


class OutboxMessage(Base):
    """One task message to publish by name: unsent until the broker took it."""

    __tablename__ = "outbox"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    task: Mapped[str] = mapped_column(String(64))  # a task name of shared.tasks
    args: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the sweep may (re)publish it if it is still unsent: a little after created_at, so the relay that runs
    # right after the commit goes first; pushed back after each failed publish.
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed publishes so far
    last_error: Mapped[str | None] = mapped_column(Text)

    # The sweep's query (unsent and due) and the pruning of old sent rows both run on this index.
    __table_args__ = (Index("ix_outbox_unsent", "sent_at", "next_attempt_at"),)
