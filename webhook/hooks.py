"""Inbound upstream callbacks: verify the capability token on the raw request, then parse, then compare-and-set.

401 bad token, 404 unknown job, 400 bad body or foreign task id, 413 oversize. A rejection writes nothing to job
state, but every attempt is recorded (never with its token).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, jsonify, request
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import RequestEntityTooLarge

from shared.cometapi import parse_task
from shared.config import hook_secret
from shared.errors import CallbackRejected
from shared.hook_tokens import verify_hook_token
from shared.models import CallbackRecord, Job
from shared.task_updates import record_task_update
from webhook.context import db_session, settings
from worker.dispatch import enqueue_finished

log = logging.getLogger("hookline.hooks")
hooks = Blueprint("hooks", __name__)


def _record(job_id: str, attempt: int, verdict: str, reason: str, http_status: int, upstream_status: str | None = None) -> None:
    with db_session() as session:
        session.add(
            CallbackRecord(
                job_id=job_id[:64], attempt_no=attempt, verdict=verdict, reason=reason[:2000],
                upstream_status=(upstream_status or "")[:16] or None, http_status=http_status,
                remote_addr=request.remote_addr,
            )
        )
        session.commit()


def _read_task() -> dict[str, Any]:
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise CallbackRejected(413, "body over 1 MiB") from None
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise CallbackRejected(400, "body is not JSON") from None
    if not isinstance(body, dict):
        raise CallbackRejected(400, "body is not a JSON object")
    task = parse_task(body)
    if task is None:
        raise CallbackRejected(400, "body is neither a task object nor a {code,message,data} envelope")
    return task


def _attach_or_check_task(job: Job, attempt: int, task: dict[str, Any]) -> None:
    task_id = task.get("task_id")
    if not isinstance(task_id, str) or not task_id:
        raise CallbackRejected(400, "task has no task_id")
    if job.upstream_task_id is None:
        # The callback outran our own record of the submit (or the submit looked failed): the token proves this
        # URL was ours for this job and attempt, so attach the task it reports instead of paying again.
        if attempt > job.attempts:
            raise CallbackRejected(400, f"attempt {attempt} was never made")
        job.upstream_task_id = task_id
        return
    if task_id != job.upstream_task_id:
        raise CallbackRejected(400, "task id does not belong to this job")


def record_callback(job_id: str, attempt: int, token: str) -> tuple[dict[str, Any], int]:
    if request.content_length is not None and request.content_length > 1024 * 1024:
        raise CallbackRejected(413, "body over 1 MiB")
    if not verify_hook_token(hook_secret(settings()), job_id, attempt, token):
        raise CallbackRejected(401, "bad token")
    task = _read_task()
    for _ in range(3):  # a concurrent receiver may win the race on clips; the retry sees its result
        with db_session() as session:
            job = session.get(Job, job_id)
            if job is None:
                raise CallbackRejected(404, "unknown job")
            _attach_or_check_task(job, attempt, task)
            outcome = record_task_update(session, job, task, settings())
            if outcome.verdict == "invalid":
                session.rollback()
                raise CallbackRejected(400, outcome.reason)
            session.add(
                CallbackRecord(
                    job_id=job_id, attempt_no=attempt, verdict=outcome.verdict, reason=outcome.reason,
                    upstream_status=str(task.get("status"))[:16], http_status=200, remote_addr=request.remote_addr,
                )
            )
            try:
                session.commit()
            except (IntegrityError, OperationalError):
                session.rollback()
                continue
            log.info("callback job=%s attempt=%s task=%s: %s (%s)", job_id, attempt, task.get("task_id"),
                     outcome.verdict, outcome.reason)
            if outcome.changed and outcome.status is not None and outcome.status.terminal:
                enqueue_finished(settings(), job_id)
            return {"ok": True, "verdict": outcome.verdict, "status": job.status}, 200
    raise CallbackRejected(503, "could not apply the callback; retry later")


@hooks.post("/hooks/cometapi/<job_id>/<int:attempt>/<token>")
def cometapi_callback(job_id: str, attempt: int, token: str):  # type: ignore[no-untyped-def]
    try:
        body, status = record_callback(job_id, attempt, token)
    except CallbackRejected as exc:
        log.warning("callback rejected job=%s attempt=%s: %s %s", job_id, attempt, exc.http_status, exc.reason)
        _record(job_id, attempt, "rejected", exc.reason, exc.http_status)
        return jsonify({"error": {"code": "callback_rejected", "message": exc.reason}}), exc.http_status
    return jsonify(body), status
