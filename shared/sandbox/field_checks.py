"""Typed readers for fields of a JSON request body; each failure names the field (HTTP 400, or 413 for size)."""

from __future__ import annotations

import math
from typing import Any

from .api_errors import field_error


def require_str(body: dict[str, Any], name: str, *, allow_empty: bool = False, max_chars: int | None = None) -> str:
    if name not in body or body[name] is None:
        raise field_error(name, "is required")
    return _checked_str(body, name, allow_empty=allow_empty, max_chars=max_chars)


def optional_str(body: dict[str, Any], name: str, *, max_chars: int | None = None) -> str | None:
    if body.get(name) is None:
        return None
    return _checked_str(body, name, allow_empty=True, max_chars=max_chars)


def _checked_str(body: dict[str, Any], name: str, *, allow_empty: bool, max_chars: int | None) -> str:
    value = body[name]
    if not isinstance(value, str):
        raise field_error(name, f"must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise field_error(name, "must not be empty")
    if max_chars is not None and len(value) > max_chars:
        raise field_error(name, f"is too long ({len(value)} > {max_chars} characters)", status=413)
    return value


def optional_bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise field_error(name, f"must be true or false, got {value!r}")
    return value


def require_seconds(body: dict[str, Any], name: str) -> float:
    """A non-negative number of seconds; a numeric string is accepted too (the docs type continue_at as string)."""
    if name not in body or body[name] is None:
        raise field_error(name, "is required")
    value = body[name]
    if isinstance(value, bool):
        raise field_error(name, f"must be a number of seconds, got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise field_error(name, f"must be a number of seconds, got {body[name]!r}") from None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise field_error(name, f"must be a number of seconds, got {body[name]!r}")
    if value < 0:
        raise field_error(name, f"must not be negative, got {value}")
    return float(value)


def optional_str_list(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise field_error(name, "must be a list of strings")
    return value


def optional_http_url(body: dict[str, Any], name: str) -> str:
    """An empty or absent value means "none" (the docs show ``"notify_hook": ""``)."""
    value = optional_str(body, name)
    if not value:
        return ""
    if not value.startswith(("http://", "https://")):
        raise field_error(name, f"must be an http(s) URL, got {value!r}")
    return value
