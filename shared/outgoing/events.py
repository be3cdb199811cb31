"""Terminal events for producers: one Delivery row per event, written once, then handed to the delivery task.

Event types: job.succeeded, job.failed, job.canceled, pipeline.succeeded, pipeline.failed, pipeline.canceled,
bulk.finished. The body is ``{"type", "timestamp", "data"}`` (the Standard Webhooks shape); ``data`` is the job,
pipeline or bulk batch JSON as the HTTP API shows it.

Every emit is idempotent: the message id is derived from the object, its terminal status and when it got there, and
``deliveries.msg_id`` is unique, so a redelivered follow-up never sends an event twice (and a job or pipeline that
is retried and ends again gets a new event).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.admission.priority import LOCAL_OWNER as LOCAL_OWNER
from shared.config import Settings
from shared.db import open_session
from shared.jobs.views import job_json
from shared.models import BulkBatch, Delivery, DisabledEndpoint, Job, Pipeline, utcnow
from shared.states import TERMINAL, DeliveryStatus, JobStatus, PipelineStatus

log = logging.getLogger("hookline.outgoing")

# LOCAL_OWNER: whose webhook secret signs events of work that has no API key (the local CLI, admin token)
TERMINAL_PIPELINE = tuple(s for s in PipelineStatus if s.terminal)
EVENT_TYPES = (
    *(f"job.{s.value}" for s in JobStatus if s in TERMINAL),
    *(f"pipeline.{s.value}" for s in TERMINAL_PIPELINE),
    "bulk.finished",
)


def message_id(kind: str, object_id: str, status: str, finished_at: datetime | None) -> str:
    """A stable ``webhook-id`` for one terminal event of one object."""
    stamp = finished_at.isoformat() if finished_at else ""
    return "msg_" + hashlib.sha256(f"{kind}|{object_id}|{status}|{stamp}".encode()).hexdigest()[:32]


def event_body(event_type: str, when: datetime | None, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": event_type, "timestamp": (when or utcnow()).isoformat(), "data": data}


def add_event(session: Session, *, msg_id: str, event_type: str, api_key_id: str | None, target_url: str,
              payload: dict[str, Any]) -> Delivery | None:
    """Add (not commit) the Delivery for one event; None when this event was already recorded. An endpoint that
    answered 410 earlier gets the row too (status ``disabled``), so the event is visible but never sent."""
    if session.scalar(select(Delivery.id).where(Delivery.msg_id == msg_id)) is not None:
        return None
    disabled = session.scalar(select(DisabledEndpoint.id).where(DisabledEndpoint.target_url == target_url))
    delivery = Delivery(
        msg_id=msg_id, event_type=event_type, api_key_id=api_key_id, target_url=target_url, payload=payload,
        status=(DeliveryStatus.DISABLED if disabled is not None else DeliveryStatus.PENDING).value,
        last_error="endpoint disabled after HTTP 410" if disabled is not None else None,
        next_attempt_at=None if disabled is not None else utcnow(),
    )
    session.add(delivery)
    return delivery


def commit_event(session: Session, delivery: Delivery | None) -> str | None:
    """Commit; the id of a delivery to send now, or None (nothing new, disabled, or a concurrent emit won)."""
    try:
        session.commit()
    except IntegrityError:  # msg_id is unique: the other emit sends the event
        session.rollback()
        return None
    return delivery.id if delivery is not None and delivery.status == DeliveryStatus.PENDING else None


def _send(settings: Settings, delivery_id: str | None) -> None:
    if delivery_id is None:
        return
    from shared.tasks import enqueue_delivery

    enqueue_delivery(settings, delivery_id)


def emit_job_event(settings: Settings, job_id: str) -> None:
    """The follow-up run after a job turned terminal: its event (when it has a callback_url), then its pipeline's
    and its bulk batch's, which each go out only once they are finished themselves."""
    with open_session(settings) as session:
        job = session.get(Job, job_id)
        if job is None or not JobStatus(job.status).terminal:
            return
        pipeline_id, bulk_id, delivery_id = job.pipeline_id, job.bulk_id, None
        if job.callback_url:
            event_type = f"job.{JobStatus(job.status).value}"
            delivery = add_event(
                session, msg_id=message_id("job", job.id, job.status, job.finished_at), event_type=event_type,
                api_key_id=job.api_key_id, target_url=job.callback_url,
                payload=event_body(event_type, job.finished_at, job_json(job)),
            )
            delivery_id = commit_event(session, delivery)
    _send(settings, delivery_id)
    if pipeline_id:
        emit_pipeline_event(settings, pipeline_id)
    if bulk_id:
        emit_bulk_event_if_done(settings, bulk_id)


def pipeline_data(session: Session, pipeline: Pipeline) -> dict[str, Any]:
    """The pipeline JSON of shared.pipelines (the same as GET /v1/pipelines/<id>)."""
    from shared.pipelines.pipeline_view import pipeline_json

    return dict(pipeline_json(session, pipeline))


def emit_pipeline_event(settings: Settings, pipeline_id: str) -> None:
    """pipeline.succeeded / failed / canceled once the pipeline is terminal (a no-op before, and when repeated)."""
    with open_session(settings) as session:
        pipeline = session.get(Pipeline, pipeline_id)
        if pipeline is None or pipeline.status not in TERMINAL_PIPELINE:
            return
        bulk_id, delivery_id = pipeline.bulk_id, None
        if pipeline.callback_url:
            event_type = f"pipeline.{PipelineStatus(pipeline.status).value}"
            delivery = add_event(
                session, msg_id=message_id("pipeline", pipeline.id, pipeline.status, pipeline.finished_at),
                event_type=event_type, api_key_id=pipeline.api_key_id, target_url=pipeline.callback_url,
                payload=event_body(event_type, pipeline.finished_at, pipeline_data(session, pipeline)),
            )
            delivery_id = commit_event(session, delivery)
    _send(settings, delivery_id)
    if bulk_id:
        emit_bulk_event_if_done(settings, bulk_id)


def emit_bulk_event_if_done(settings: Settings, bulk_id: str) -> bool:
    """bulk.finished, exactly once, when every accepted line's job or pipeline is terminal and the whole file was
    accepted. True when this call marked the batch finished."""
    from shared.bulk.progress import bulk_progress

    with open_session(settings) as session:
        progress = bulk_progress(session, bulk_id)
        if progress is None or not progress["finished"]:
            return False
        marked = cast("CursorResult[Any]", session.execute(
            update(BulkBatch).where(BulkBatch.id == bulk_id, BulkBatch.finished_event_sent.is_(False))
            .values(finished_event_sent=True).execution_options(synchronize_session=False)
        )).rowcount == 1
        if not marked:
            session.rollback()
            return False
        batch = session.get(BulkBatch, bulk_id)
        delivery = None
        if batch is not None and batch.callback_url:
            progress["finished_event_sent"] = True
            delivery = add_event(
                session, msg_id=message_id("bulk", bulk_id, "finished", None), event_type="bulk.finished",
                api_key_id=batch.api_key_id, target_url=batch.callback_url,
                payload=event_body("bulk.finished", utcnow(), progress),
            )
        # The mark and the event commit together: a crash between them can neither lose nor repeat the event.
        delivery_id = commit_event(session, delivery)
    log.info("bulk batch %s finished", bulk_id)
    _send(settings, delivery_id)
    return True
