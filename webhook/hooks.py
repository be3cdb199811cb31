"""Inbound upstream callbacks: ``read_callback`` verifies the capability token, then reads and parses the body;
``apply_callback`` compare-and-sets the job. The view only maps ``CallbackRejected`` to a response.

401 bad token, 429 too many bad tokens from one source, 415 not JSON, 413 over 1 MiB (declared or chunked), 400
bad body or foreign task id, 404 unknown job. A rejection writes nothing to job state, but every attempt except a
429 is recorded (never with its token).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Request, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import RequestEntityTooLarge

from shared.cometapi import CometClient, parse_task
from shared.config import hook_secrets
from shared.errors import CallbackRejected, UpstreamError
from shared.jobs.finishing import add_finished
from shared.jobs.hook_urls import verify_with_any
from shared.jobs.lean_apply import apply_lean
from shared.jobs.updates import UpdateOutcome, record_task_update
from shared.models import CallbackRecord, Job
from shared.nesting import NestingTooDeep, loads_bounded
from shared.outbox import relay_in_background
from shared.states import CallbackVerdict, JobStatus, from_upstream
from webhook.context import db_session, settings
from webhook.orphans import match_task

log = logging.getLogger("hookline.hooks")
hooks = Blueprint("hooks", __name__)
MAX_CALLBACK_BYTES = 1024 * 1024
JSON_TYPES = ("application/json", "text/json")
MAX_ATTEMPT = 2**31 - 1


def _record(job_id: str, attempt: int, verdict: CallbackVerdict, reason: str, http_status: int,
            upstream_status: str | None = None) -> None:
    with db_session() as session:
        session.add(
            CallbackRecord(
                job_id=job_id[:64], attempt_no=attempt, verdict=verdict.value, reason=reason[:2000],
                upstream_status=(upstream_status or "")[:16] or None, http_status=http_status,
                remote_addr=_source(request),
            )
        )
        session.commit()


def _source(req: Request) -> str:
    """The client address behind the trusted proxies (``ProxyFix`` in ``create_app``), as the column holds it."""
    return (req.remote_addr or "-")[:64]


def _verify_token(req: Request, job_id: str, attempt: int, token: str) -> None:
    """401 for a missing or bad token, or 429 when this source's allowance for rejections is spent."""
    if token and verify_with_any(hook_secrets(settings()), job_id, attempt, token):
        return
    wait = current_app.extensions["hookline.source_limiter"].allow(_source(req))
    if wait:
        raise CallbackRejected(429, f"too many rejected callbacks from this source; retry in {wait:.1f}s")
    raise CallbackRejected(401, "bad token" if token else "missing token")


def _check_content_type(req: Request) -> None:
    """JSON or nothing said: the upstream documents no callback format, but a form or text body is not a task."""
    mimetype = req.mimetype
    if mimetype and not (mimetype in JSON_TYPES or mimetype.endswith("+json")):
        raise CallbackRejected(415, f"content type {mimetype!r} is not JSON")


def _read_body(req: Request) -> bytes:
    """At most MAX_CALLBACK_BYTES, whether the length is declared or the body is chunked: one byte more is a 413,
    never a silently truncated body."""
    req.max_content_length = MAX_CALLBACK_BYTES + 1  # the stream stops one byte past the limit, not at it
    chunks: list[bytes] = []
    size = 0
    try:
        stream = req.stream
        while size <= MAX_CALLBACK_BYTES:
            chunk = stream.read(MAX_CALLBACK_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except RequestEntityTooLarge:
        size = MAX_CALLBACK_BYTES + 1
    if size > MAX_CALLBACK_BYTES:
        raise CallbackRejected(413, "body over 1 MiB")
    return b"".join(chunks)


def _parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = loads_bounded(raw)
    except NestingTooDeep as exc:
        raise CallbackRejected(400, f"body is JSON {exc}") from None
    except (ValueError, UnicodeDecodeError):
        raise CallbackRejected(400, "body is not JSON") from None
    if not isinstance(body, dict):
        raise CallbackRejected(400, "body is not a JSON object")
    task = parse_task(body)
    if task is None:
        raise CallbackRejected(400, "body is neither a task object nor a {code,message,data} envelope")
    return task


def _confirm_by_fetch(task: dict[str, Any]) -> dict[str, Any]:
    """Strict mode (HOOKLINE_VERIFY=fetch): a COMPLETE callback is a hint; the fetched task is what counts."""
    if from_upstream(task.get("status")) is not JobStatus.SUCCEEDED:
        return task
    try:
        return CometClient.from_settings(settings()).fetch(str(task["task_id"]))
    except UpstreamError as exc:
        raise CallbackRejected(503, f"could not confirm the task upstream: {exc.message}") from None


def read_callback(req: Request, job_id: str, attempt: int, token: str) -> dict[str, Any]:
    """The callback's task, or CallbackRejected. The token is verified first (constant time, nothing read yet);
    only requests failing it spend their source's allowance, so a valid token is never throttled. Then the
    content type, the size and the body; in strict mode a COMPLETE is confirmed by a fetch."""
    _verify_token(req, job_id, attempt, token)
    _check_content_type(req)
    task = _parse_body(_read_body(req))
    if settings().verify_mode == "fetch":
        task = _confirm_by_fetch(task)
    return task


def apply_callback(job_id: str, attempt: int, task: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Compare-and-set the job from a verified task: the answer's body and status, or CallbackRejected.

    The common case (the job's own task moving it forward) takes the lean path (``apply_lean``: Core statements,
    nothing loaded); whatever it declines, the full path judges and records."""
    for _ in range(3):  # a concurrent receiver may win the race on clips; the retry sees its result
        try:
            lean = apply_lean(settings(), job_id, attempt, task, _source(request))
            if lean is None:
                return _apply(job_id, attempt, task)
            log.info("callback job=%s attempt=%s task=%s: %s (%s)", job_id, attempt, task.get("task_id"),
                     lean.verdict.value, lean.reason)
            relay_in_background(settings(), lean.follow_ups)  # after the commit; no broker round trip here
            return {"ok": True, "verdict": lean.verdict.value, "status": lean.status.value}, 200
        except (IntegrityError, OperationalError) as exc:
            log.info("callback job=%s: concurrent update (%s); retrying", job_id, type(exc).__name__)
    raise CallbackRejected(503, "could not apply the callback; retry later")


def _apply(job_id: str, attempt: int, task: dict[str, Any]) -> tuple[dict[str, Any], int]:
    with db_session() as session:
        job = session.get(Job, job_id)
        if job is None:
            raise CallbackRejected(404, "unknown job")
        ignore_reason = match_task(session, job, attempt, task)
        if ignore_reason is not None:
            outcome = UpdateOutcome(CallbackVerdict.IGNORED, ignore_reason, JobStatus(job.status))
        else:
            outcome = record_task_update(session, job, task, settings())
        if outcome.verdict is CallbackVerdict.INVALID:
            session.rollback()
            raise CallbackRejected(400, outcome.reason)
        follow_ups: list[str] = []
        if outcome.changed and outcome.status is not None and outcome.status.terminal:
            # Its follow-ups commit with the transition that calls for them (the transactional outbox).
            follow_ups.extend(add_finished(session, settings(), job_id))
        session.add(
            CallbackRecord(
                job_id=job_id, attempt_no=attempt, verdict=outcome.verdict.value, reason=outcome.reason,
                upstream_status=str(task.get("status"))[:16], http_status=200, remote_addr=_source(request),
            )
        )
        session.commit()
        status = job.status
    log.info("callback job=%s attempt=%s task=%s: %s (%s)", job_id, attempt, task.get("task_id"),
             outcome.verdict.value, outcome.reason)
    # Published after the commit by this process's relay thread, not in this request; if the broker cannot take it,
    # the row stays and the reconciler's sweep publishes it. Either way the callback was recorded: answer 2xx.
    relay_in_background(settings(), follow_ups)
    return {"ok": True, "verdict": outcome.verdict.value, "status": status}, 200


@hooks.post("/hooks/cometapi/<job_id>/<int:attempt>", defaults={"token": ""})
@hooks.post("/hooks/cometapi/<job_id>/<int:attempt>/", defaults={"token": ""})
@hooks.post("/hooks/cometapi/<job_id>/<int:attempt>/<token>")
def cometapi_callback(job_id: str, attempt: int, token: str) -> ResponseReturnValue:
    if attempt > MAX_ATTEMPT:  # no such attempt was ever made; too large to even record
        return jsonify({"error": {"code": "not_found", "message": "no such attempt"}}), 404
    try:
        body, status = apply_callback(job_id, attempt, read_callback(request, job_id, attempt, token))
    except CallbackRejected as exc:
        log.warning("callback rejected job=%s attempt=%s: %s %s", job_id, attempt, exc.http_status, exc.reason)
        if exc.http_status == 429:  # a flood is logged, not written row by row
            return _rejection(exc), 429, {"Retry-After": "1"}
        _record(job_id, attempt, CallbackVerdict.REJECTED, exc.reason, exc.http_status)
        return _rejection(exc), exc.http_status
    return jsonify(body), status


def _rejection(exc: CallbackRejected) -> Response:
    return jsonify({"error": {"code": "callback_rejected", "message": exc.reason}})
