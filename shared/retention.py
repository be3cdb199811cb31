"""Retention: ``hookline prune --older-than 30d`` and the beat's daily prune (HOOKLINE_RETENTION_DAYS).

What goes, when it finished (or was last touched) before the cutoff:
- finished jobs (succeeded, failed, canceled) with their attempts, clips, artifacts (rows, and files unless
  ``keep_artifacts``) and callbacks; jobs of a pipeline go only with their finished pipeline, never alone;
- finished pipelines, all of whose jobs are finished, with their steps;
- callbacks for jobs that no longer exist (orphans), finished deliveries, sent outbox rows, idempotency records,
  bulk batches none of whose jobs or pipelines are left (their ``rate_buckets`` rows, if any, are not touched
  here: the reconciler's sweep drops them with every other finished batch's, ``shared.admission.rate_state``);
- the embedded broker's consumed messages (kombu's SQLAlchemy transport hides a message it hands out and never
  deletes it), whatever the cutoff: nothing ever reads them again.

What never goes: queued or in-flight jobs, running pipelines and their jobs, pending deliveries, unsent outbox
rows, fresh idempotency claims, and money. Before an attempt row is deleted its charge is folded into ``cost_days``
(one row per UTC day, operation and API key, in the same transaction), which the cost reports add to the attempts
still present: a prune never changes a ledger total. Today's attempts are never pruned (the cutoff is at least one
day back), so the budget checks, which read today's attempts, see every call.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.db import open_session
from shared.errors import ValidationError
from shared.models import (
    Artifact,
    Attempt,
    BulkBatch,
    BulkLine,
    CallbackRecord,
    Clip,
    CostDay,
    Delivery,
    IdempotencyRecord,
    Job,
    OutboxMessage,
    Pipeline,
    PipelineStep,
    utcnow,
)
from shared.states import TERMINAL, DeliveryStatus, PipelineStatus

log = logging.getLogger("hookline.retention")
MIN_AGE = timedelta(days=1)
MAX_AGE = timedelta(days=36500)
BATCH = 500
CONSUMED_MESSAGE_AGE = timedelta(minutes=10)  # a hidden broker message older than this was consumed long ago
_AGE = re.compile(r"^\s*([0-9]{1,6})\s*([dhw])\s*$")
_UNIT = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_FINISHED = sorted(s.value for s in TERMINAL)
_PIPELINE_DONE = sorted(s.value for s in PipelineStatus if s.terminal)


def parse_age(text: str, where: str = "--older-than") -> timedelta:
    """``30d``, ``12h``, ``2w`` (a bare number is days): at least 1 day, so today's ledger is never touched."""
    raw = text.strip().lower()
    found = _AGE.match(raw if raw[-1:] in _UNIT else raw + "d")
    if not found:
        raise ValidationError(f"{where}: expected an age like 30d, 36h or 2w, got {text!r}", field=where)
    age = int(found.group(1)) * _UNIT[found.group(2)]
    if not MIN_AGE <= age <= MAX_AGE:
        raise ValidationError(f"{where}: {text!r} is out of range: from 1 day (today's spend is never pruned) "
                              "to 100 years", field=where)
    return age


@dataclass
class PruneReport:
    cutoff: datetime
    dry_run: bool
    keep_artifacts: bool
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows deleted (or that would be)
    files: int = 0
    file_bytes: int = 0
    file_errors: list[str] = field(default_factory=list)

    def add(self, table: str, count: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + count

    def as_json(self) -> dict[str, Any]:
        return {"cutoff": self.cutoff.isoformat(), "dry_run": self.dry_run, "keep_artifacts": self.keep_artifacts,
                "rows": dict(sorted(self.rows.items())), "files": self.files, "file_bytes": self.file_bytes,
                "file_errors": self.file_errors}


def _old_pipelines(cutoff: datetime) -> Select[Any]:
    unfinished_job = exists().where(Job.pipeline_id == Pipeline.id, Job.status.notin_(_FINISHED))
    return select(Pipeline.id).where(Pipeline.status.in_(_PIPELINE_DONE),
                                     func.coalesce(Pipeline.finished_at, Pipeline.updated_at) < cutoff,
                                     ~unfinished_job)


def _old_jobs(cutoff: datetime) -> Select[Any]:
    return select(Job.id).where(Job.status.in_(_FINISHED), func.coalesce(Job.finished_at, Job.updated_at) < cutoff,
                                or_(Job.pipeline_id.is_(None), Job.pipeline_id.in_(_old_pipelines(cutoff))))


def _by_age(cutoff: datetime) -> dict[str, tuple[Any, Any]]:
    """Tables pruned by their own age alone: name -> (model, where clause)."""
    job_gone = ~exists().where(Job.id == CallbackRecord.job_id)
    return {
        "callbacks": (CallbackRecord, and_(CallbackRecord.received_at < cutoff, job_gone)),
        "deliveries": (Delivery, and_(Delivery.status != DeliveryStatus.PENDING.value, Delivery.updated_at < cutoff)),
        "outbox": (OutboxMessage, OutboxMessage.sent_at < cutoff),
        "idempotency_keys": (IdempotencyRecord, or_(
            and_(IdempotencyRecord.status != "in_progress", IdempotencyRecord.created_at < cutoff),
            and_(IdempotencyRecord.status == "in_progress", IdempotencyRecord.claimed_at < cutoff))),
    }


def _old_bulk(cutoff: datetime) -> Select[Any]:
    return select(BulkBatch.id).where(BulkBatch.created_at < cutoff,
                                      ~exists().where(Job.bulk_id == BulkBatch.id),
                                      ~exists().where(Pipeline.bulk_id == BulkBatch.id))


def _delete(session: Session, model: Any, where: Any) -> int:
    """DELETE … WHERE; how many rows went."""
    return int(getattr(session.execute(delete(model).where(where)), "rowcount", 0) or 0)


def _count(session: Session, stmt: Select[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


def _batches(settings: Settings, stmt: Select[Any]) -> Iterator[tuple[Session, list[Any]]]:
    """Ids of ``stmt`` BATCH at a time, each with its own session (the caller commits); until none are left."""
    while True:
        with open_session(settings) as session:
            ids = list(session.scalars(stmt.limit(BATCH)))
            if not ids:
                return
            yield session, ids


def fold_attempts(session: Session, attempts: list[Attempt]) -> None:
    """Add the charges of ``attempts`` (about to be deleted) to ``cost_days``. The caller commits."""
    from shared.jobs.ledger import CHARGED, paid_endpoint

    charged = {o.value for o in CHARGED}
    for attempt in attempts:
        if attempt.outcome not in charged:
            continue
        day = attempt.started_at.astimezone(UTC).date().isoformat()
        key = (day, attempt.operation, attempt.api_key_id or "")
        row = session.get(CostDay, key)
        if row is None:
            row = CostDay(day=key[0], operation=key[1], api_key_id=key[2], calls=0, paid_calls=0, usd=0.0,
                          possible_duplicate_usd=0.0)
            session.add(row)
        row.calls += 1 if paid_endpoint(attempt.endpoint) else 0  # as cost_summary counts them: paid endpoints
        row.paid_calls += 1 if attempt.cost_usd > 0 else 0
        row.usd += attempt.cost_usd
        if attempt.possible_duplicate:
            row.possible_duplicate_usd += attempt.cost_usd
    session.flush()


def _delete_attempts(session: Session, where: Any) -> int:
    attempts = list(session.scalars(select(Attempt).where(where).with_for_update()))
    if not attempts:
        return 0
    fold_attempts(session, attempts)
    ids = [a.id for a in attempts]
    deleted = _delete(session, Attempt, Attempt.id.in_(ids))
    if deleted != len(ids):  # another prune took some first: fold nothing twice
        raise RuntimeError("attempts changed under the prune; try again")
    return len(ids)


def _prune_jobs(settings: Settings, cutoff: datetime, report: PruneReport, files: list[str]) -> None:
    for session, ids in _batches(settings, _old_jobs(cutoff)):
        report.add("upstream_attempts", _delete_attempts(session, Attempt.job_id.in_(ids)))
        files.extend(_stored_keys(settings, session.scalars(select(Artifact).where(Artifact.job_id.in_(ids))), report))
        for table, model, column in (("artifacts", Artifact, Artifact.job_id), ("clips", Clip, Clip.job_id),
                                     ("callbacks", CallbackRecord, CallbackRecord.job_id),
                                     ("jobs", Job, Job.id)):
            report.add(table, _delete(session, model, column.in_(ids)))
        session.commit()
    empty_pipelines = _old_pipelines(cutoff).where(~exists().where(Job.pipeline_id == Pipeline.id))
    for session, ids in _batches(settings, empty_pipelines):
        report.add("pipeline_steps", _delete(session, PipelineStep, PipelineStep.pipeline_id.in_(ids)))
        report.add("pipelines", _delete(session, Pipeline, Pipeline.id.in_(ids)))
        session.commit()


def _dry_run(settings: Settings, cutoff: datetime, report: PruneReport) -> None:
    with open_session(settings) as session:
        jobs = _old_jobs(cutoff)
        report.add("jobs", _count(session, jobs))
        for table, column in (("upstream_attempts", Attempt.job_id), ("clips", Clip.job_id),
                              ("artifacts", Artifact.job_id), ("callbacks", CallbackRecord.job_id)):
            report.add(table, _count(session, select(column).where(column.in_(jobs))))
        pipelines = _old_pipelines(cutoff)
        report.add("pipelines", _count(session, pipelines))
        report.add("pipeline_steps", _count(session, select(PipelineStep.id)
                                            .where(PipelineStep.pipeline_id.in_(pipelines))))
        rows = session.scalars(select(Artifact).where(Artifact.job_id.in_(jobs)))
        report.files = 0 if report.keep_artifacts else len(_stored_keys(settings, rows))
        for table, (model, where) in _by_age(cutoff).items():
            report.add(table, _count(session, select(model).where(where)))
        report.add("upstream_attempts", _count(session, select(Attempt.id).where(
            Attempt.job_id.is_(None), Attempt.started_at < cutoff)))
        report.add("bulk_batches", _count(session, _old_bulk(cutoff)))


def prune(settings: Settings, older_than: timedelta, *, dry_run: bool = False,
          keep_artifacts: bool = False) -> PruneReport:
    """Delete what finished more than ``older_than`` ago (see the module doc); ``dry_run`` only counts."""
    from shared.broker_prune import prune_consumed_messages

    if older_than < MIN_AGE:
        raise ValidationError("older_than: at least 1 day (today's spend is never pruned)", field="older_than")
    report = PruneReport(utcnow() - older_than, dry_run, keep_artifacts)
    if dry_run:
        _dry_run(settings, report.cutoff, report)
        report.add("kombu_message", prune_consumed_messages(settings, CONSUMED_MESSAGE_AGE, dry_run=True))
        return report
    files: list[str] = []
    _prune_jobs(settings, report.cutoff, report, files)
    with open_session(settings) as session:
        for table, (model, where) in _by_age(report.cutoff).items():
            report.add(table, _delete(session, model, where))
        report.add("upstream_attempts", _delete_attempts(session, and_(Attempt.job_id.is_(None),
                                                                        Attempt.started_at < report.cutoff)))
        bulk_ids = list(session.scalars(_old_bulk(report.cutoff)))
        session.execute(delete(BulkLine).where(BulkLine.bulk_id.in_(bulk_ids)))
        report.add("bulk_batches", _delete(session, BulkBatch, BulkBatch.id.in_(bulk_ids)))
        session.commit()
    if not keep_artifacts:
        _remove_files(settings, files, report)
    report.add("kombu_message", prune_consumed_messages(settings, CONSUMED_MESSAGE_AGE))
    log.info("prune: cutoff %s, deleted %s, %d file(s) (%d bytes)", report.cutoff.isoformat(timespec="seconds"),
             report.rows, report.files, report.file_bytes)
    return report


def _stored_keys(settings: Settings, rows: Iterable[Artifact], report: PruneReport | None = None) -> list[str]:
    """The store keys of artifact rows (rows written before the store existed: their path under the file root). A
    row whose path lies outside the store is reported and its file left alone: a row never deletes anything else."""
    from shared.artifact_store import open_store
    from shared.jobs.artifacts import stored_key

    store = open_store(settings)
    keys = []
    for row in rows:
        key = stored_key(row, store)
        if key:
            keys.append(key)
        elif row.path and report is not None:
            report.file_errors.append(f"{row.path}: not in the artifact store {store.url}; left alone")
    return keys


def _remove_files(settings: Settings, keys: list[str], report: PruneReport) -> None:
    """The stored objects of pruned rows, after their rows are gone (an object left behind is harmless; a row whose
    object is gone would not be). Through the artifact store, file or S3 alike."""
    from shared.artifact_store import StoreError, open_store
    from shared.jobs.artifacts import remove_stored

    store = open_store(settings)
    for key in keys:
        try:
            size = remove_stored(store, key)
        except (OSError, StoreError) as exc:
            report.file_errors.append(f"{key}: {exc}")
            continue
        if size is not None:
            report.files += 1
            report.file_bytes += size
