"""The transactional outbox: a message that must follow a state change is a row written in the same transaction as
that change. After the commit, ``relay`` publishes it and marks it sent; the reconciler's sweep (``republish_unsent``)
publishes again whatever stayed unsent. A failed publish is never swallowed: the row stays unsent, with its error,
until the broker takes it.

    with open_session(settings) as session:
        ...                                            # the state change
        follow_up = add_follow_up(session, JOB_FINISHED, job_id)
        session.commit()                               # both, or neither
    relay(settings, [follow_up])                       # outside the transaction

A message may go out more than once (a relay and a sweep racing, a crash between the publish and the mark): the
tasks it starts are idempotent.

The receiver does not publish in its request: it writes the rows with Core statements (``follow_up_values``) and
hands them, already in memory, to ``relay_in_background`` after its commit. One relay thread per process publishes
them in batches over one broker connection and marks them sent with one UPDATE, without reading them back. If the
process dies first, the rows are still unsent and the sweep publishes them after RELAY_GRACE.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.db import open_session
from shared.models import OutboxMessage, new_id, utcnow
from shared.tasks import publish_in_order

log = logging.getLogger("hookline.outbox")

RELAY_GRACE = 5.0  # seconds an unsent row is left to the relay that follows its commit before the sweep takes it
MAX_RETRY_DELAY = 60.0
SWEEP_LIMIT = 500  # rows republished per sweep; the rest wait for the next one
KEEP_SENT = timedelta(days=1)  # sent rows are kept this long (to see what was sent), then pruned
PRUNE_LIMIT = 1000  # sent rows deleted per sweep

Row = tuple[str, str, list[Any]]  # id, task name, args


def retry_delay(attempts: int) -> float:
    """Seconds before a row whose publish failed ``attempts`` times is published again: 1, 2, 4, … up to a minute."""
    return min(MAX_RETRY_DELAY, 2.0 ** max(0, attempts - 1))


def follow_up_values(task_name: str, args: list[Any], now: datetime | None = None) -> dict[str, Any]:
    """The column values of a new outbox row for ``task_name(*args)``, for a Core INSERT in the caller's
    transaction (``add_follow_up`` is the ORM way)."""
    now = now or utcnow()
    return {"id": new_id(), "task": task_name, "args": list(args), "created_at": now,
            "next_attempt_at": now + timedelta(seconds=RELAY_GRACE), "attempts": 0}


def add_follow_up(session: Session, task_name: str, *args: Any) -> str:
    """Add (not commit) the message ``task_name(*args)`` to the caller's transaction; its id, for ``relay``."""
    row = OutboxMessage(**follow_up_values(task_name, list(args)))
    session.add(row)
    return row.id


def relay(settings: Settings, ids: Iterable[str]) -> int:
    """After the commit: publish these rows (those still unsent) and mark them sent; returns how many went.

    Never raises for the broker or the database: what did not go stays an unsent row (with the error and a later
    ``next_attempt_at``) that the sweep republishes, and a warning says so.
    """
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return 0
    try:
        with open_session(settings) as session:
            found = {row.id: (row.id, row.task, list(row.args)) for row in session.execute(
                select(OutboxMessage.id, OutboxMessage.task, OutboxMessage.args)
                .where(OutboxMessage.id.in_(wanted), OutboxMessage.sent_at.is_(None)))}
    except SQLAlchemyError:
        log.warning("outbox: could not read %d message(s) to relay; the sweep will publish them", len(wanted),
                    exc_info=True)
        return 0
    return _publish(settings, [found[i] for i in wanted if i in found])


def republish_unsent(settings: Settings, *, limit: int = SWEEP_LIMIT) -> int:
    """The sweep: publish rows that stayed unsent past their ``next_attempt_at``, oldest first, at most ``limit``.
    Returns how many went."""
    with open_session(settings) as session:
        rows: list[Row] = [(row.id, row.task, list(row.args)) for row in session.execute(
            select(OutboxMessage.id, OutboxMessage.task, OutboxMessage.args)
            .where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= utcnow())
            .order_by(OutboxMessage.next_attempt_at).limit(limit))]
    if rows:
        log.info("outbox: republishing %d unsent message(s)", len(rows))
    return _publish(settings, rows)


def prune_sent(settings: Settings, *, keep: timedelta = KEEP_SENT, limit: int = PRUNE_LIMIT) -> int:
    """Delete up to ``limit`` rows sent more than ``keep`` ago; returns how many."""
    with open_session(settings) as session:
        old = select(OutboxMessage.id).where(OutboxMessage.sent_at < utcnow() - keep).limit(limit)
        ids = list(session.scalars(old))
        if ids:
            session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids)))
            session.commit()
    return len(ids)


def _publish(settings: Settings, rows: Sequence[Row]) -> int:
    if not rows:
        return 0
    published, error = publish_in_order(settings, [(task, args) for _, task, args in rows])
    sent, unsent = [row[0] for row in rows[:published]], [row[0] for row in rows[published:]]
    try:
        _mark(settings, sent, unsent, error)
    except SQLAlchemyError:  # the messages went (or not); the rows stay unsent and are published again, harmlessly
        log.warning("outbox: could not record the publish of %d message(s)", len(rows), exc_info=True)
    if unsent:
        log.warning("outbox: %d message(s) not published (%s: %s); they stay unsent for the sweep", len(unsent),
                    type(error).__name__, error)
    return published


def _mark(settings: Settings, sent: list[str], unsent: list[str], error: Exception | None) -> None:
    now = utcnow()
    with open_session(settings) as session:
        if sent:
            session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(sent), OutboxMessage.sent_at.is_(None))
                            .values(sent_at=now).execution_options(synchronize_session=False))
        if unsent:
            reason = f"{type(error).__name__}: {error}"[:2000]
            for row in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(unsent),
                                                                   OutboxMessage.sent_at.is_(None))):
                row.attempts += 1
                row.last_error = reason
                row.next_attempt_at = now + timedelta(seconds=retry_delay(row.attempts))
        session.commit()


class _BackgroundRelay:
    """One daemon thread per process (started on first use, again in a forked child) that publishes committed rows
    handed over in memory: batched, over one broker connection, marked sent with one UPDATE."""

    BATCH = 200
    # After the first row, wait this long for more: one connection and one UPDATE for a batch instead of each row
    # (P1-CPU), for at most this much latency before the next step (P4's budget is 100 ms).
    LINGER = 0.005

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = 0
        # A row in memory (published as it is) or only its id (read back first: the ORM paths' ``add_follow_up``).
        self.todo: queue.SimpleQueue[tuple[Settings, Row | str]] = queue.SimpleQueue()
        self.pending = 0  # rows handed over and not yet published and marked

    def put(self, settings: Settings, rows: Sequence[Row | str]) -> None:
        self._ensure_thread()
        with self.lock:
            self.pending += len(rows)
        for row in rows:
            self.todo.put((settings, row))

    def _ensure_thread(self) -> None:
        if self.pid == os.getpid():
            return
        with self.lock:
            if self.pid != os.getpid():
                self.todo = queue.SimpleQueue()  # a forked child does not inherit its parent's pending rows
                self.pending = 0
                threading.Thread(target=self._run, name="hookline-outbox-relay", daemon=True).start()
                self.pid = os.getpid()

    def _run(self) -> None:
        while True:
            batch = [self.todo.get()]
            linger_until = time.monotonic() + self.LINGER
            while len(batch) < self.BATCH:
                try:
                    batch.append(self.todo.get(timeout=max(0.0, linger_until - time.monotonic())))
                except queue.Empty:
                    break
            try:
                by_settings: dict[Settings, list[Row | str]] = {}
                for settings, item in batch:
                    by_settings.setdefault(settings, []).append(item)
                for settings, items in by_settings.items():
                    _publish(settings, [item for item in items if not isinstance(item, str)])
                    relay(settings, [item for item in items if isinstance(item, str)])
            except Exception:  # noqa: BLE001 - the thread must live on; the rows stay unsent for the sweep
                log.warning("outbox: background relay failed; the sweep will publish what it left", exc_info=True)
            finally:
                with self.lock:
                    self.pending -= len(batch)

    def flush(self, timeout: float) -> bool:
        """Wait until every row handed over so far has been published (or given up on); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.pending:
                return True
            time.sleep(0.005)
        return False


_RELAY = _BackgroundRelay()


def relay_in_background(settings: Settings, rows: Sequence[Row | str]) -> None:
    """After the commit of ``rows`` ((id, task name, args), or only the id of a row to read back): have this
    process's relay thread publish them and mark them sent. Returns at once: no broker round trip for the caller.
    Never raises."""
    if rows:
        _RELAY.put(settings, rows)


def flush_background_relay(timeout: float = 5.0) -> bool:
    """Wait for the relay thread to publish what it was handed (tests; process exit). False on timeout."""
    if _RELAY.pid != os.getpid():
        return True
    return _RELAY.flush(timeout)


atexit.register(flush_background_relay, 2.0)  # a clean exit publishes what it can; the sweep has the rest
