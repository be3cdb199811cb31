"""The embedded broker's consumed messages: kombu's SQLAlchemy transport marks a message it hands to a worker
``visible = false`` and never deletes it, so ``kombu_message`` grows by every task ever sent. ``hookline prune``
(and the beat's prune) deletes the hidden rows; visible (waiting) messages are never touched."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import inspect, text

from shared.config import EMBEDDED_BROKER_SCHEME, Settings

TABLE = "kombu_message"


def prune_consumed_messages(settings: Settings, older_than: timedelta, *, dry_run: bool = False) -> int:
    """Delete (or count) hidden messages consumed more than ``older_than`` ago; 0 with another broker."""
    if not settings.embedded_broker:
        return 0
    from shared.db import engine_for

    engine = engine_for(settings.broker_url.removeprefix(EMBEDDED_BROKER_SCHEME))
    if not inspect(engine).has_table(TABLE):
        return 0  # the broker was never used
    before = datetime.now() - older_than  # kombu stores local naive times (datetime.now) when it hides a message
    where = "visible = 0 AND timestamp IS NOT NULL AND timestamp < :before"
    with engine.begin() as conn:
        if dry_run:
            return int(conn.execute(text(f"SELECT count(*) FROM {TABLE} WHERE {where}"), {"before": before})
                       .scalar() or 0)
        return int(conn.execute(text(f"DELETE FROM {TABLE} WHERE {where}"), {"before": before}).rowcount or 0)
