"""Bulk files: every line validated before anything is written, then accepted in chunks, one transaction each.

A line is ``{"operation", "params", "key"?, "callback_url"?}`` or ``{"pipeline": spec, "name"?, "key"?,
"callback_url"?}``. Its key (given, else a hash of the line) is recorded per owner in ``bulk_lines``; a line whose
key is there already is skipped, so running the same file again enqueues only what an interrupted run did not.
A rerun continues the batch of the earlier run. Identical lines without a key count as one (give each a ``key``
to run the same params twice).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.admission import parse_priority
from shared.bulk.lines import BulkEntry, LineError, LineInvalid, entry_from_line
from shared.bulk.progress import rate_bucket_name
from shared.bulk.source import BulkSource
from shared.config import Settings
from shared.db import open_session
from shared.errors import HooklineError, ValidationError
from shared.jobs.ledger import check_estimate, daily_caps
from shared.models import BulkBatch, BulkLine, Job, RateBucket
from shared.pipelines.estimate import NOTHING, CostEstimate
from shared.producer import add_job
from shared.states import JobStatus

CHUNK_SIZE = 500
MAX_ERRORS_KEPT = 1000


@dataclass
class BulkReport:
    source: str
    lines: int = 0
    valid: int = 0
    invalid: int = 0
    errors: list[LineError] = field(default_factory=list)
    bulk_id: str | None = None
    resumed: bool = False
    accepted: int = 0  # new in this run
    already_accepted: int = 0  # by an earlier run of the same lines
    duplicates: int = 0  # a key seen twice in this file
    interrupted: list[int] = field(default_factory=list)  # pipeline lines an earlier run was killed creating
    requeued: int = 0  # jobs of earlier-accepted lines enqueued again (still queued, never tried)
    rate: float | None = None
    # Of the valid lines (a line repeated in the file counted each time: the file is streamed, no key set is kept);
    # of the lines not accepted by an earlier run when a daily budget applies.
    estimate: CostEstimate = NOTHING

    def note_invalid_line(self, errors: list[LineError]) -> None:
        self.invalid += 1
        self.errors.extend(errors[: max(0, MAX_ERRORS_KEPT - len(self.errors))])

    def as_json(self) -> dict[str, Any]:
        return {
            "bulk_id": self.bulk_id, "source": self.source, "lines": self.lines, "valid": self.valid,
            "invalid": self.invalid, "errors": [e.as_json() for e in self.errors],
            "errors_truncated": len(self.errors) >= MAX_ERRORS_KEPT, "resumed": self.resumed, "accepted": self.accepted,
            "already_accepted": self.already_accepted, "duplicates": self.duplicates,
            "interrupted": self.interrupted, "requeued": self.requeued, "rate": self.rate, **self.estimate.as_json(),
        }


def _entries(settings: Settings, source: BulkSource, report: BulkReport | None) -> Iterator[BulkEntry]:
    """The valid entries (each line checked in full, both passes); counted into ``report`` when given. A file of
    more than HOOKLINE_MAX_BULK_LINES lines is refused as a whole (ValidationError) when the line after it is read."""
    for count, raw in enumerate(source.lines(), 1):
        if count > settings.max_bulk_lines:
            raise ValidationError(f"has more than {settings.max_bulk_lines} lines; split it, or raise "
                                  "HOOKLINE_MAX_BULK_LINES", field="file", where=source.label)
        if report is not None:
            report.lines += 1
        try:
            entry = entry_from_line(settings, raw)
        except ValidationError as exc:
            if report is not None:
                one = [LineError(raw.line_no, exc.field, exc.message)]
                report.note_invalid_line(exc.errors if isinstance(exc, LineInvalid) else one)
            continue
        if report is not None:
            report.valid += 1
        yield entry


def validate_bulk(settings: Settings, source: BulkSource) -> BulkReport:
    """Pass one: read and check every line, and estimate the cost of the valid ones; nothing is written."""
    report = BulkReport(source=source.label)
    for entry in _entries(settings, source, report):
        report.estimate += entry.cost
    return report


def check_bulk_budget(settings: Settings, source: BulkSource, report: BulkReport, *, owner: str = "",
                      api_key_id: str | None = None) -> None:
    """Refuse (``OverBudget``) a validated file whose new lines (not accepted by an earlier run) are estimated over
    what the daily budget of the key or of the system has left. Reads only; with no budget set, reads nothing."""
    with open_session(settings) as session:
        if not daily_caps(session, settings, api_key_id):
            return
        estimate, entries = NOTHING, _entries(settings, source, None)
        while chunk := list(islice(entries, CHUNK_SIZE)):
            accepted = _existing(session, owner, [e.key for e in chunk])
            estimate = sum((e.cost for e in {e.key: e for e in chunk}.values() if e.key not in accepted), estimate)
        report.estimate = estimate
        check_estimate(session, settings, api_key_id, estimate.usd, f"bulk file {report.source}")


Progress = Callable[[BulkReport], None]


def accept_bulk(settings: Settings, source: BulkSource, *, owner: str = "", api_key_id: str | None = None,
                callback_url: str | None = None, rate: float | None = None, name: str | None = None,
                skip_invalid: bool = False, chunk_size: int = CHUNK_SIZE, on_progress: Progress | None = None,
                priority: Any = None) -> BulkReport:
    """Validate the whole file, then (when it is clean, or ``skip_invalid``) accept its new lines, ``chunk_size``
    rows per transaction, enqueueing each chunk's jobs after its commit. ``owner`` scopes the line keys (the API
    key id; "" for the local CLI and the admin token)."""
    from shared.net.callback_urls import check_callback_url
    from shared.outgoing.events import emit_bulk_event_if_done

    if callback_url is not None:
        callback_url = check_callback_url(settings, callback_url)
    if rate is not None and not rate > 0:
        raise ValidationError("must be a positive number of submits per second", field="rate")
    if chunk_size < 1:
        raise ValidationError("must be at least 1", field="chunk_size")
    chosen = None if priority is None else parse_priority(priority)
    report = validate_bulk(settings, source)
    report.rate = rate
    if (report.invalid and not skip_invalid) or not report.valid:
        return report
    check_bulk_budget(settings, source, report, owner=owner, api_key_id=api_key_id)
    entries = _entries(settings, source, None)
    while chunk := list(islice(entries, chunk_size)):
        with open_session(settings) as session:
            if report.bulk_id is None:
                report.bulk_id = _open_batch(session, report, chunk, owner=owner, api_key_id=api_key_id,
                                             callback_url=callback_url, name=name or source.label,
                                             priority=chosen)
            pipelines, job_ids = _accept_chunk(session, settings, report, chunk, owner, api_key_id)
        from shared.producer import enqueue_jobs

        # The committed queued jobs wait as rows; the admission step sends as many as the limits allow.
        enqueue_jobs(settings, job_ids)
        for entry in pipelines:
            _accept_pipeline(settings, report, entry, owner, api_key_id)
        if on_progress is not None:
            on_progress(report)
    if report.bulk_id is not None:
        with open_session(settings) as session:
            batch = session.get(BulkBatch, report.bulk_id)
            assert batch is not None
            batch.total = int(session.scalar(select(func.count(BulkLine.id))
                                             .where(BulkLine.bulk_id == report.bulk_id)) or 0)
            session.commit()
        emit_bulk_event_if_done(settings, report.bulk_id)
    return report


def _existing(session: Session, owner: str, keys: list[str]) -> dict[str, BulkLine]:
    rows = session.scalars(select(BulkLine).where(BulkLine.owner == owner, BulkLine.key.in_(keys)))
    return {row.key: row for row in rows}


def _open_batch(session: Session, report: BulkReport, chunk: list[BulkEntry], *, owner: str,
                api_key_id: str | None, callback_url: str | None, name: str, priority: int | None = None) -> str:
    """The batch an earlier run of these lines started (resume), else a new one. Its total is the file's count of
    valid lines until the run ends, so a half-accepted batch never looks finished."""
    earlier = Counter(row.bulk_id for row in _existing(session, owner, [e.key for e in chunk]).values())
    batch = session.get(BulkBatch, earlier.most_common(1)[0][0]) if earlier else None
    report.resumed = batch is not None
    if batch is None:
        batch = BulkBatch(name=name[:255], api_key_id=api_key_id, callback_url=callback_url)
        session.add(batch)
    batch.total = max(batch.total or 0, report.valid)
    if priority is not None:
        batch.priority = priority
    session.flush()
    if report.rate is not None:
        bucket = session.get(RateBucket, rate_bucket_name(batch.id)) or RateBucket(name=rate_bucket_name(batch.id))
        bucket.rate, bucket.tokens, bucket.updated_at = report.rate, report.rate, time.time()
        session.add(bucket)
    session.commit()
    return batch.id


def _accept_chunk(session: Session, settings: Settings, report: BulkReport, chunk: list[BulkEntry], owner: str,
                  api_key_id: str | None) -> tuple[list[BulkEntry], list[str]]:
    """Add the chunk's new jobs and their line rows in one transaction. Returns the pipeline lines still to create
    and the job ids to enqueue: the new ones, and those an interrupted run accepted but may never have enqueued
    (still queued, never tried; a second message for a job is harmless). A concurrent run of the same lines makes
    the commit fail: then the chunk is done again."""
    for _ in range(5):
        existing = _existing(session, owner, [e.key for e in chunk])
        fresh: set[str] = set()
        pipelines, jobs, errors, counts = [], [], [], Counter[str]()
        for entry in chunk:
            row = existing.get(entry.key)
            if row is not None:
                counts["already"] += 1
                if row.job_id is None and row.pipeline_id is None:
                    report.interrupted.append(entry.line_no)
            elif entry.key in fresh:
                counts["duplicates"] += 1
            elif entry.spec is not None:
                fresh.add(entry.key)
                pipelines.append(entry)
            else:
                try:
                    job = add_job(session, settings, str(entry.operation), entry.payload or {}, bulk_id=report.bulk_id,
                                  api_key_id=api_key_id, callback_url=entry.callback_url)
                except ValidationError as exc:  # the file changed since it was validated
                    errors.append(LineError(entry.line_no, exc.field, exc.message))
                    continue
                fresh.add(entry.key)
                jobs.append((entry, job))
        session.flush()
        session.add_all([BulkLine(owner=owner, key=e.key, bulk_id=report.bulk_id, line_no=e.line_no, job_id=j.id)
                         for e, j in jobs])
        earlier = [row.job_id for row in existing.values() if row.job_id]
        stalled = list(session.scalars(select(Job.id).where(
            Job.id.in_(earlier), Job.status == JobStatus.QUEUED.value, Job.attempts == 0))) if earlier else []
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            continue
        for error in errors:
            report.note_invalid_line([error])
        report.accepted += len(jobs)
        report.already_accepted += counts["already"]
        report.duplicates += counts["duplicates"]
        report.requeued += len(stalled)
        return pipelines, [job.id for _, job in jobs] + stalled
    raise ValidationError("the same lines are being accepted concurrently; run the file again", field="file")


def _accept_pipeline(settings: Settings, report: BulkReport, entry: BulkEntry, owner: str,
                     api_key_id: str | None) -> None:
    """Reserve the line, create the pipeline, link it. A run killed in between leaves a reserved line that a rerun
    reports as ``interrupted`` instead of paying for the pipeline a second time."""
    from shared.pipelines import create_pipeline

    with open_session(settings) as session:
        line = BulkLine(owner=owner, key=entry.key, bulk_id=report.bulk_id, line_no=entry.line_no)
        session.add(line)
        try:
            session.commit()
        except IntegrityError:
            report.already_accepted += 1
            return
        try:
            pipeline_id = create_pipeline(settings, entry.spec, name=entry.name, api_key_id=api_key_id,
                                          callback_url=entry.callback_url, bulk_id=report.bulk_id)
        except HooklineError as exc:  # SpecInvalid and friends: the line was valid on its own, not in context
            session.delete(line)
            session.commit()
            errors = getattr(exc, "errors", None) or [exc]
            report.note_invalid_line([LineError(entry.line_no, getattr(e, "field", None), getattr(e, "message", str(e)))
                                      for e in errors])
            return
        line.pipeline_id = pipeline_id
        session.commit()
        report.accepted += 1
