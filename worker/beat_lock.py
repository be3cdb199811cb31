"""One beat per deployment: a lease row in SQL (``beat_leases``) that the sending beat renews on every tick.

Another beat started anywhere is a standby: it ticks, finds the lease held and unexpired, sends nothing, and takes
the lease over once the holder has not renewed it for ``HOOKLINE_BEAT_LEASE`` seconds (a crash, a lost host). A
beat that stops cleanly deletes its lease, so the standby takes over at its next check.

Expiry times are written with the writing host's clock: hosts must agree on the time to well within the lease
(NTP does; a host whose clock runs far ahead could take the lease early, and two beats would briefly both send,
which the reconciler tolerates: every sweep is idempotent).

Why a row in SQL and not ``celery-redbeat``: the database is the one server every deployment has (the embedded
default has no Redis; its broker is SQLite too), the lease is one compare-and-set ``UPDATE`` like every other
state change here, and it behaves the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from datetime import timedelta
from typing import Any, cast

from celery.beat import PersistentScheduler
from sqlalchemy import CursorResult, delete, or_, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from shared.config import Settings, load_settings
from shared.db import open_session
from shared.models import BeatLease, utcnow

log = logging.getLogger("hookline.beat")

LEASE_NAME = "beat"


def holder_id() -> str:
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"


def hold_lease(settings: Settings, holder: str, name: str = LEASE_NAME) -> bool:
    """Take or renew the lease (one compare-and-set); False while another holder's lease has not expired.
    Commits on its own: the lease must be visible to other beats at once."""
    now = utcnow()
    expires = now + timedelta(seconds=settings.beat_lease)
    with open_session(settings) as session:
        taken = cast("CursorResult[Any]", session.execute(
            update(BeatLease)
            .where(BeatLease.name == name, or_(BeatLease.holder == holder, BeatLease.expires_at < now))
            .values(holder=holder, expires_at=expires)
            .execution_options(synchronize_session=False))).rowcount == 1
        if not taken:
            session.add(BeatLease(name=name, holder=holder, expires_at=expires))
        try:
            session.commit()
        except IntegrityError:  # the row exists and is someone else's, or two beats inserted at once
            session.rollback()
            return False
        return True


def release_lease(settings: Settings, holder: str, name: str = LEASE_NAME) -> None:
    """Give the lease up (only our own), so a standby takes over without waiting for it to expire."""
    with open_session(settings) as session:
        session.execute(delete(BeatLease).where(BeatLease.name == name, BeatLease.holder == holder))
        session.commit()


class LeasedScheduler(PersistentScheduler):
    """Celery's persistent scheduler, sending only while this process holds the beat lease."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.settings = load_settings()
        self.holder = holder_id()
        self.leading: bool | None = None  # unknown until the first tick
        super().__init__(*args, **kwargs)

    def _renew(self) -> bool:
        try:
            held = hold_lease(self.settings, self.holder)
        except SQLAlchemyError as exc:  # the database is away: send nothing rather than risk two senders
            log.warning("beat: cannot reach the database for the lease (%s); not sending", type(exc).__name__)
            held = False
        if held != self.leading:
            log.warning("beat %s: %s", self.holder, "holding the lease, sending the schedule" if held
                        else "another beat holds the lease; standing by")
            self.leading = held
        return held

    def tick(self, *args: Any, **kwargs: Any) -> float:
        # Renew at least three times per lease, whatever the schedule's next due time.
        check = max(self.settings.beat_lease / 3, 0.2)
        if not self._renew():
            return check
        return min(float(super().tick(*args, **kwargs)), check)

    def close(self) -> None:
        super().close()
        if self.leading is True:
            try:
                release_lease(self.settings, self.holder)
            except SQLAlchemyError:
                pass  # it expires on its own
