"""What a job that turned terminal is owed: its follow-ups (``hookline.job_finished``: advance its pipeline, then
``hookline.download_artifacts``: keep its files, tell its producer; a job with no pipeline and no cap goes straight
to the second, ``finished_messages``), and proof that they ran.

Two writes in the transaction that made the job terminal say so:
- an outbox row (``shared.outbox``) that publishes the follow-ups right after the commit;
- the job's ``next_check_at``, the reconciler's level-triggered check: until the follow-ups have run to the end,
  with no file left ``pending``, the reconciler runs them again when it falls due (a message lost after it was
  published, a worker killed mid-download). ``follow_ups_done`` clears it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, exists, select, update
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.db import open_session
from shared.models import ApiKey, Artifact, Job, utcnow
from shared.models.work import LOCAL_OWNER
from shared.outbox import add_follow_up, relay
from shared.states import TERMINAL, JobStatus, transition
from shared.tasks import DOWNLOAD_ARTIFACTS, JOB_FINISHED

log = logging.getLogger("hookline.finishing")

_TERMINAL = [s.value for s in TERMINAL]
RERUN_LIMIT = 100  # finished jobs whose follow-ups are run again per sweep
GIVE_UP_AFTER = timedelta(days=1)


def follow_ups_grace(settings: Settings) -> timedelta:
    """How long a finished job's follow-ups may take before the reconciler presumes them lost: the grace a queued
    job's message gets (HOOKLINE_QUEUED_GRACE)."""
    return timedelta(seconds=settings.queued_grace)


def finished_messages(settings: Settings, conn: Connection | Session, job_id: str) -> list[tuple[str, list[Any]]]:
    """The task messages (name, args) a job that just turned terminal is owed, as outbox rows: the one list every
    path that finishes a job writes (``add_finished``, ``finish_job``, the receiver's lean path), read in the
    caller's transaction.

    ``hookline.job_finished`` advances the job's pipeline and, under a cap, admits the next job, then hands the
    files to ``hookline.download_artifacts``. A job in no pipeline whose slot no cap counts (neither
    HOOKLINE_MAX_IN_FLIGHT nor its owner's ``max_in_flight``) has nothing for it to do, so it is owed the files'
    task straight away: one task message a job fewer (bench P2). The reconciler's rerun always sends job_finished.
    """
    row = conn.execute(select(Job.pipeline_id, Job.owner).where(Job.id == job_id)).first()
    if row is None:
        return [(JOB_FINISHED, [job_id])]
    return owed_follow_ups(settings, conn, job_id, row.pipeline_id, row.owner)


def owed_follow_ups(settings: Settings, conn: Connection | Session, job_id: str, pipeline_id: str | None,
                    owner: str) -> list[tuple[str, list[Any]]]:
    """``finished_messages`` for a caller that has the job's pipeline and owner already (the receiver's lean path
    has them from its compare-and-set): an owner's cap is read only for a keyed job in no pipeline."""
    if settings.max_in_flight or pipeline_id is not None:
        return [(JOB_FINISHED, [job_id])]
    if owner != LOCAL_OWNER and conn.scalar(select(ApiKey.max_in_flight).where(ApiKey.id == owner)):
        return [(JOB_FINISHED, [job_id])]
    return [(DOWNLOAD_ARTIFACTS, [job_id, True])]


def add_finished(session: Session, settings: Settings, job_id: str, *, now: datetime | None = None) -> list[str]:
    """In the caller's transaction, right after the compare-and-set that made the job terminal: the outbox row
    for its follow-ups (their ids, for ``shared.outbox.relay`` after the commit) and the reconciler's deadline."""
    due = (now or utcnow()) + follow_ups_grace(settings)
    session.execute(update(Job).where(Job.id == job_id, Job.status.in_(_TERMINAL)).values(next_check_at=due)
                    .execution_options(synchronize_session=False))
    return [add_follow_up(session, name, *args) for name, args in finished_messages(settings, session, job_id)]


def finish_job(session: Session, settings: Settings, job_id: str, target: JobStatus, **fields: Any) -> tuple[str, ...]:
    """Compare-and-set the job to the terminal ``target`` (``shared.states.transition``); if this call moved it, its
    follow-ups join the caller's transaction. Returns the outbox ids to relay after the commit (none if not moved)."""
    assert target.terminal, target
    fields.setdefault("next_check_at", utcnow() + follow_ups_grace(settings))  # as add_finished, in the same UPDATE
    moved = transition(session, job_id, target, **fields)
    if not moved:
        return ()
    return tuple(add_follow_up(session, name, *args) for name, args in finished_messages(settings, session, job_id))


def rerun_overdue_follow_ups(settings: Settings, *, limit: int = RERUN_LIMIT) -> int:
    """The reconciler's check: finished jobs whose follow-ups were not seen to end by their deadline get them again,
    through the outbox (at most ``limit`` per sweep, oldest first, on the (status, next_check_at) index). The next
    deadline moves out by the job's age, so follow-ups that keep failing are tried ever less often, and not at all
    after GIVE_UP_AFTER. Returns how many were run again."""
    now, grace = utcnow(), follow_ups_grace(settings)
    again: list[str] = []
    with open_session(settings) as session:
        overdue = session.execute(
            select(Job.id, Job.finished_at).where(Job.status.in_(_TERMINAL), Job.next_check_at <= now)
            .order_by(Job.next_check_at).limit(limit)).all()
        for job_id, finished_at in overdue:
            age = now - (finished_at or now)
            if age > GIVE_UP_AFTER:
                log.error("follow-ups of job %s never completed in %s; no longer retried", job_id, GIVE_UP_AFTER)
                next_check = None
            else:
                next_check = now + max(grace, age)
                again.append(add_follow_up(session, JOB_FINISHED, job_id))
            session.execute(update(Job).where(Job.id == job_id, Job.status.in_(_TERMINAL))
                            .values(next_check_at=next_check).execution_options(synchronize_session=False))
        session.commit()
    if again:
        log.warning("follow-ups of %d finished job(s) did not complete in time; running them again", len(again))
    relay(settings, again)
    return len(again)


def follow_ups_done(settings: Settings, job_id: str) -> bool:
    """After the follow-ups ran without a failure: clear the job's deadline, unless one of its files is still
    ``pending`` (another run is fetching it, or one died mid-download). Commits; True when it cleared it."""
    pending = exists().where(Artifact.job_id == job_id, Artifact.status == "pending")
    with open_session(settings) as session:
        cleared = cast("CursorResult[Any]", session.execute(
            update(Job).where(Job.id == job_id, Job.status.in_(_TERMINAL), Job.next_check_at.is_not(None), ~pending)
            .values(next_check_at=None).execution_options(synchronize_session=False))).rowcount == 1
        session.commit()
    return cleared
