"""Process-wide logging: plain lines by default, one JSON object per line with ``HOOKLINE_LOG_FORMAT=json``.

Every record carries ``job_id``, ``pipeline_id`` and ``upstream_task_id`` when they are known, taken in this order:
1. ``extra={"job_id": ...}`` on the log call;
2. ``log_context(job_id=..., ...)`` around the work (a contextvar: right per thread and per asyncio task);
3. the Flask request being served (``<job_id>`` / ``<pipeline_id>`` in the URL rule);
4. the Celery task being run (its ``job_id`` / ``pipeline_id`` kwargs, or a job id as its first argument).
Callback capability tokens are cut out of every message, in both formats (``shared.redaction.redact_tokens``).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from shared.config import Settings
from shared.errors import ConfigError
from shared.redaction import redact_tokens

FIELDS = ("job_id", "pipeline_id", "upstream_task_id")
FORMATS = ("text", "json")
PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
_bound: ContextVar[dict[str, str] | None] = ContextVar("hookline_log_context", default=None)


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Attach job_id / pipeline_id / upstream_task_id to every record logged inside the block."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown log field(s): {', '.join(sorted(unknown))}")
    merged = {**(_bound.get() or {}), **{k: str(v) for k, v in fields.items() if v}}
    token = _bound.set(merged)
    try:
        yield
    finally:
        _bound.reset(token)


def _from_flask() -> dict[str, str]:
    try:
        from flask import has_request_context, request
    except ImportError:  # pragma: no cover - flask is a dependency; be safe in odd processes
        return {}
    if not has_request_context():
        return {}
    args = request.view_args or {}
    return {k: str(args[k]) for k in ("job_id", "pipeline_id") if args.get(k)}


def _from_celery() -> dict[str, str]:
    try:
        from celery import current_task
    except ImportError:  # pragma: no cover
        return {}
    task = current_task
    request = getattr(task, "request", None) if task else None
    if request is None or getattr(request, "id", None) is None:
        return {}
    found = {k: str(v) for k, v in (request.kwargs or {}).items() if k in ("job_id", "pipeline_id") and v}
    args = request.args or ()
    if "job_id" not in found and args and isinstance(args[0], str) and _JOB_ID.match(args[0]):
        found["job_id"] = args[0]
    return found


class JobFieldsFilter(logging.Filter):
    """Sets the three FIELDS on every record (None when unknown), from the sources listed in the module doc."""

    def filter(self, record: logging.LogRecord) -> bool:
        missing = [f for f in FIELDS if not getattr(record, f, None)]
        if missing:
            sources = (_bound.get() or {}, _from_flask(), _from_celery())
            for name in missing:
                value = next((s[name] for s in sources if s.get(name)), None)
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the job fields that are known, exc_info."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_tokens(record.getMessage()),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value:
                entry[name] = str(value)
        entry["process"] = record.process
        if record.exc_info:
            entry["exc_info"] = redact_tokens(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack_info"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_tokens(super().format(record))


class AlembicStartupFilter(logging.Filter):
    """Alembic's start-up chatter ("setup plugin …", "Context impl …", "Will assume … DDL") is logged at DEBUG, not
    INFO: every process reads the schema revision at start, and nine such lines each time drown the real ones.
    "Running upgrade …" (a migration actually applied) stays INFO."""

    _CHATTER = ("setup plugin ", "setting up autogenerate plugin ", "Context impl ", "Will assume ")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not str(record.msg).startswith(self._CHATTER):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def quiet_alembic_startup() -> None:
    """Install AlembicStartupFilter on Alembic's loggers (idempotent)."""
    for name in ("alembic.runtime.plugins", "alembic.runtime.migration"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, AlembicStartupFilter) for f in logger.filters):
            logger.addFilter(AlembicStartupFilter())


def log_format_of(settings: Settings) -> str:
    value = (settings.log_format or "text").strip().lower()
    if value == "plain":
        value = "text"
    if value not in FORMATS:
        raise ConfigError("HOOKLINE_LOG_FORMAT", f"expected 'json' or 'text', got {settings.log_format!r}")
    return value


def configure_logging(settings: Settings, stream: Any = None) -> logging.Handler:
    """Install hookline's one root handler (replacing an earlier one of ours; idempotent). Returns it."""
    chosen = log_format_of(settings)
    level = logging.getLevelName(settings.log_level.upper())
    if not isinstance(level, int):
        raise ConfigError("HOOKLINE_LOG_LEVEL", f"expected DEBUG, INFO, WARNING or ERROR, got {settings.log_level!r}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "hookline", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.hookline = True  # type: ignore[attr-defined]
    handler.addFilter(JobFieldsFilter())
    handler.setFormatter(JsonFormatter() if chosen == "json" else PlainFormatter(PLAIN))
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("hookline").setLevel(level)
    quiet_alembic_startup()
    return handler
