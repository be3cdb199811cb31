"""The HTTP client for CometAPI's music endpoints: one request method, typed errors, no retry loop.

Every failure leaves as an ``UpstreamError`` subclass carrying ``sent`` (did the request
reach the upstream?). The caller (a Celery task) retries ``exc.retryable`` errors with
``retry.retry_delay``; an ``AmbiguousSubmit`` is never resent blindly, because the upstream
may already have charged for it. The API key goes out in the Authorization header only:
it is masked in ``repr`` and scrubbed from every error message and body excerpt.
"""

from __future__ import annotations

import json as jsonlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

from shared.cometapi.endpoints import AUTO_PATHS, ENDPOINTS, Endpoint
from shared.cometapi.export_paths import followed_answer, request_export
from shared.cometapi.operation_record import Operation
from shared.cometapi.operations import REGISTRY, body_for, endpoint_for
from shared.cometapi.responses import parse_task, submitted_id
from shared.cometapi.retry import parse_retry_after
from shared.cometapi.send_outcome import request_was_sent
from shared.cometapi.status_map import BODY_EXCERPT_CHARS, exception_for_status
from shared.errors import AmbiguousSubmit, BadRequest, UpstreamError, UpstreamUnavailable
from shared.redaction import REDACTED

if TYPE_CHECKING:
    from shared.config import Settings

log = logging.getLogger(__name__)

FETCH_MANY_LIMIT = 50
FETCH_ACTIONS: tuple[str, ...] = ("MUSIC", "LYRICS")
USER_AGENT = "hookline-cometapi"
# requests errors that mean our own URL or headers are wrong: nothing was sent, and a retry cannot help.
SETUP_ERRORS: tuple[type[requests.RequestException], ...] = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
)


@dataclass(frozen=True)
class ResponseRecord:
    """What the last HTTP answer on this thread was, for the caller's log line."""

    endpoint: str
    method: str
    path: str
    status: int
    elapsed_s: float


class CometClient:
    """A CometAPI client. Thread-safe as far as requests.Session is; ``last_response`` is per thread."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        session: requests.Session | None = None,
        export_paths: str = AUTO_PATHS,
        mv_aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.export_paths, self.mv_aliases = export_paths, dict(mv_aliases or {})
        self._api_key = api_key or None
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._session = session if session is not None else requests.Session()
        self._last = threading.local()

    @classmethod
    def from_settings(cls, settings: Settings) -> CometClient:
        return cls(
            settings.base_url,
            settings.api_key,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            export_paths=settings.export_paths,
            mv_aliases=dict(settings.mv_aliases),
        )

    def __repr__(self) -> str:
        key = "'***'" if self._api_key else "None"
        return f"CometClient(base_url={self.base_url!r}, api_key={key})"

    def close(self) -> None:
        self._session.close()

    @property
    def last_response(self) -> ResponseRecord | None:
        """The last HTTP answer received on this thread (success or error), or None."""
        return getattr(self._last, "record", None)

    @property
    def last_status(self) -> int | None:
        record = self.last_response
        return record.status if record else None

    def request(
        self,
        endpoint_name: str,
        *,
        path_params: Mapping[str, Any] | None = None,
        json: Any = None,
        query: Mapping[str, Any] | None = None,
        family: str | None = None,
    ) -> Any:
        """Send one request to a named endpoint (in the path ``family``, for an export) and return its JSON body.

        Raises the exception ``exception_for_status`` picks for a non-2xx answer or a 2xx
        ``{"code": "error"}`` body; UpstreamUnavailable (sent=False) when no connection came up;
        AmbiguousSubmit (paid endpoints) or UpstreamUnavailable (others), sent=True, when the
        request went out and no usable answer came back.
        """
        if endpoint_name not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint_name!r}; expected one of {', '.join(ENDPOINTS)}")
        endpoint = ENDPOINTS[endpoint_name]
        path = endpoint.path_with(path_params, family=family)
        task_id = (path_params or {}).get("task_id")
        self._last.record = None
        started = time.monotonic()
        try:
            response = self._session.request(
                endpoint.method,
                self.base_url + path,
                json=json,
                params=query,
                headers=self._headers(),
                timeout=(self.connect_timeout, self.read_timeout),
                allow_redirects=False,  # a redirected POST turns into a GET; report it instead
            )
        except requests.RequestException as exc:
            raise self._transport_error(endpoint, exc, task_id) from exc
        elapsed = time.monotonic() - started
        status = response.status_code
        self._last.record = ResponseRecord(endpoint.name, endpoint.method, path, status, elapsed)
        log.debug("cometapi %s %s -> %s in %.3fs", endpoint.method, path, status, elapsed)

        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if not 200 <= status < 300:
            body_text = self._redact(response.content)
            error = exception_for_status(status, body_text, operation=endpoint.name, retry_after=retry_after)
            raise _with_context(error, sent=True, task_id=task_id)
        try:
            body = jsonlib.loads(response.content)
        except ValueError:
            raise self._unreadable_answer(endpoint, status, response.content, task_id) from None
        if isinstance(body, dict) and body.get("code") == "error":
            error = exception_for_status(status, self._redact(response.content), operation=endpoint.name)
            raise _with_context(error, sent=True, task_id=task_id)
        return body

    def submit(self, operation: str, payload: Mapping[str, Any]) -> str:
        """Send a validated payload (plus notify_hook; ``mv`` through COMETAPI_MV_ALIASES) and return the upstream
        task id (persona: its id). A 2xx answer without an id raises AmbiguousSubmit: it may have been accepted."""
        known = REGISTRY.get(operation)
        if known is not None and known.submit_is_first_poll:
            raise ValueError(f"{operation} is an export; use export({operation!r}, clip_id)")
        endpoint = endpoint_for(operation, payload)
        body = self.request(endpoint.name, json=body_for(operation, payload, mv_aliases=self.mv_aliases))
        new_id = submitted_id(operation, body)
        if new_id is None:
            error = AmbiguousSubmit(
                "the upstream answered 2xx without a task id; it may have accepted the request",
                status=self.last_status,
                body_excerpt=self._excerpt(body),
                operation=endpoint.name,
            )
            raise _with_context(error, sent=True)
        return new_id

    def fetch(self, task_id: str) -> dict[str, Any]:
        """The task (``{task_id, status, progress, data, ...}``) for one task id."""
        body = self.request("fetch_one", path_params={"task_id": task_id})
        task = parse_task(body)
        if task is None:
            error = BadRequest(
                "the upstream returned no task for this id",
                field="task_id",
                status=self.last_status,
                operation="fetch_one",
                task_id=task_id,
                body_excerpt=self._excerpt(body),
            )
            raise _with_context(error, sent=True)
        return task

    def fetch_many(self, ids: Sequence[str], action: str = "MUSIC") -> list[dict[str, Any]]:
        """The tasks for up to FETCH_MANY_LIMIT ids of one action ("MUSIC" or "LYRICS")."""
        if isinstance(ids, str) or not all(isinstance(task_id, str) for task_id in ids):
            raise ValueError("ids must be a list of task id strings")
        if len(ids) > FETCH_MANY_LIMIT:
            raise ValueError(f"fetch_many takes at most {FETCH_MANY_LIMIT} ids, got {len(ids)}")
        if action not in FETCH_ACTIONS:
            raise ValueError(f"action must be one of {FETCH_ACTIONS}, got {action!r}")
        if not ids:
            return []
        body = self.request("fetch_many", json={"ids": list(ids), "action": action})
        items = body.get("data") if isinstance(body, dict) else body
        if not isinstance(items, list):
            error = UpstreamError(
                "the batch fetch answer holds no task list",
                status=self.last_status,
                operation="fetch_many",
                body_excerpt=self._excerpt(body),
            )
            raise _with_context(error, sent=True)
        return [task for task in map(parse_task, items) if task is not None]

    def export(self, operation: str, clip_id: str) -> dict[str, Any]:
        """The answer of a wav/midi/mp4/timing export, as the upstream gave it (a URL, an id to poll, a state)."""
        known = REGISTRY.get(operation)
        if known is None or not known.submit_is_first_poll:
            exports = tuple(name for name, found in REGISTRY.items() if found.submit_is_first_poll)
            raise ValueError(f"export takes one of {exports}, got {operation!r}")
        return self.poll(known, clip_id)

    def poll(self, operation: Operation, ref: str, *, follow: str | None = None) -> dict[str, Any]:
        """One poll of an operation that never calls back: its export GET names the clip ``ref``, its query the id
        ``ref`` that the submit answered. ``follow``: the task id an export answered with, fetched like a task."""
        if operation.poll is None:
            raise ValueError(f"{operation.name} is not polled")
        endpoint = operation.poll.endpoint.name
        if follow:
            return followed_answer(self.fetch(follow), follow)
        if operation.poll.by_clip:
            body = request_export(self, operation.poll.endpoint, ref, self.export_paths)
        else:
            body = self.request(endpoint, query={"ids": ref})
        return body if isinstance(body, dict) else {"data": body}

    def udio_query(self, ids: Sequence[str] | str) -> dict[str, Any]:
        """The Udio songs for these generation ids: ``{"songs": [...]}``."""
        joined = ids if isinstance(ids, str) else ",".join(ids)
        body = self.request("udio_query", query={"ids": joined})
        return body if isinstance(body, dict) else {"data": body}

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _redact(self, data: bytes) -> bytes:
        return data.replace(self._api_key.encode(), REDACTED.encode()) if self._api_key else data

    def _redact_text(self, text: str) -> str:
        return text.replace(self._api_key, REDACTED) if self._api_key else text

    def _transport_error(
        self, endpoint: Endpoint, exc: requests.RequestException, task_id: str | None
    ) -> UpstreamError:
        """No HTTP answer: say whether the request went out, and whether that may have cost money."""
        detail = self._redact_text(f"{type(exc).__name__}: {exc}")[:300]
        cls: type[UpstreamError]
        if isinstance(exc, SETUP_ERRORS):
            cls, sent, message = UpstreamError, False, f"bad request setup: {detail}"  # a config fault: no retry
        elif not request_was_sent(exc):
            cls, sent, message = UpstreamUnavailable, False, f"could not connect: {detail}"
        elif endpoint.paid:
            cls, sent = AmbiguousSubmit, True
            message = f"sent, but no answer came back ({detail}); the upstream may have accepted it"
        else:
            cls, sent, message = UpstreamUnavailable, True, f"sent, but no answer came back: {detail}"
        return _with_context(cls(message, operation=endpoint.name, task_id=task_id), sent=sent)

    def _unreadable_answer(self, endpoint: Endpoint, status: int, content: bytes, task_id: str | None) -> UpstreamError:
        excerpt = self._redact(content)[:BODY_EXCERPT_CHARS].decode("utf-8", errors="replace")
        cls = AmbiguousSubmit if endpoint.paid else UpstreamUnavailable
        message = f"the {status} answer is not JSON" + ("; the upstream may have accepted it" if endpoint.paid else "")
        error = cls(message, status=status, body_excerpt=excerpt, operation=endpoint.name, task_id=task_id)
        return _with_context(error, sent=True)

    def _excerpt(self, body: Any) -> str:
        return self._redact_text(jsonlib.dumps(body, default=str, ensure_ascii=False))[:BODY_EXCERPT_CHARS]


def _with_context(error: UpstreamError, *, sent: bool, task_id: str | None = None) -> UpstreamError:
    """``error`` with ``sent`` set (and ``task_id`` when known): did the request reach the upstream?"""
    error.sent = sent
    if task_id is not None and error.task_id is None:
        error.task_id = task_id
    return error

