"""Query parameters of the /v1 list routes: strict parsing (a typo is a 400, not an unfiltered list) and opaque
cursors over (created_at, id), newest first, so pages stay stable while new rows arrive."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from flask import request
from sqlalchemy import Select, and_, or_

from webhook.api.auth import ApiError

DEFAULT_LIMIT, MAX_LIMIT = 50, 200


def check_query(allowed: Iterable[str]) -> None:
    allowed = set(allowed)
    for name in request.args:
        if name not in allowed:
            raise ApiError(400, "invalid", f"unknown query parameter {name!r}; expected one of "
                           f"{', '.join(sorted(allowed))}", name)


def query_limit() -> int:
    raw = request.args.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not re.fullmatch(r"[0-9]{1,4}", raw) or not 1 <= int(raw) <= MAX_LIMIT:  # ASCII: "²".isdigit() is True
        raise ApiError(400, "invalid", f"must be a whole number from 1 to {MAX_LIMIT}", "limit")
    return int(raw)


def parse_time(raw: str, name: str) -> datetime:
    # An unencoded "+01:00" arrives as " 01:00" in a query string: take it as meant.
    text = re.sub(r"(\d) (\d{2}:?\d{2})$", r"\1+\2", raw.strip()).replace("Z", "+00:00")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "invalid", "must be an ISO 8601 date or time, e.g. 2026-01-31T12:00:00Z", name) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def query_time(name: str) -> datetime | None:
    raw = request.args.get(name)
    return None if raw is None else parse_time(raw, name)


def query_choices(name: str, choices: Iterable[str]) -> list[str] | None:
    """A comma-separated filter (``status=failed,canceled``), each value one of ``choices``."""
    raw = request.args.get(name)
    if raw is None:
        return None
    values, choices = [v.strip() for v in raw.split(",") if v.strip()], tuple(choices)
    bad = [v for v in values if v not in choices]
    if not values or bad:
        raise ApiError(400, "invalid", f"expected one or more of {', '.join(choices)} (comma-separated)", name)
    return values


def encode_cursor(created_at: datetime, row_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(raw: str) -> tuple[datetime, str]:
    try:
        stamp, row_id = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        return parse_time(stamp, "cursor"), str(row_id)
    except (ValueError, TypeError, binascii.Error, ApiError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "invalid", "not a cursor from this API (use next_cursor as given)", "cursor") from None


def page(stmt: Select[Any], model: Any, limit: int) -> Select[Any]:
    """``stmt`` ordered newest first, after the request's cursor, one row more than ``limit`` (to know if more)."""
    raw = request.args.get("cursor")
    if raw:
        created_at, row_id = decode_cursor(raw)
        stmt = stmt.where(or_(model.created_at < created_at, and_(model.created_at == created_at, model.id < row_id)))
    return stmt.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)


def next_cursor(rows: list[Any], limit: int) -> str | None:
    return encode_cursor(rows[limit - 1].created_at, rows[limit - 1].id) if len(rows) > limit else None
