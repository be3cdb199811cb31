"""Field-level checks shared by every operation's request rules.

Each check raises ``BadRequest(message, field=<name>)`` naming the offending field, so the
producer (CLI, HTTP, bulk line) can point at it. Nothing here knows about operations.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from shared.errors import BadRequest

# A kind is a name for a JSON type with hookline's extra rules.
TEXT = "text"  # str
NUMBER = "number"  # int or float, finite, not bool
INTEGER = "integer"  # int, not bool
BOOLEAN = "boolean"
TEXT_LIST = "text_list"  # list of str
OBJECT = "object"  # dict
SECONDS = "seconds"  # a NUMBER, or a string holding one (the docs type continue_at both ways): sent as given
URL = "url"  # http(s) URL with a host

KIND_DESCRIPTIONS: dict[str, str] = {
    TEXT: "a string",
    NUMBER: "a number",
    INTEGER: "a whole number",
    BOOLEAN: "true or false",
    TEXT_LIST: "a list of strings",
    SECONDS: "a number of seconds (a number, or a string holding one)",
    OBJECT: "an object",
    URL: "an http(s) URL",
}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def as_number(value: Any) -> float | None:
    """The finite number ``value`` is or holds as a decimal string, else None."""
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


_KIND_TESTS: dict[str, Callable[[Any], bool]] = {
    TEXT: lambda v: isinstance(v, str),
    NUMBER: _is_number,
    SECONDS: lambda v: as_number(v) is not None,
    INTEGER: lambda v: isinstance(v, int) and not isinstance(v, bool),
    BOOLEAN: lambda v: isinstance(v, bool),
    TEXT_LIST: lambda v: isinstance(v, list) and all(isinstance(item, str) for item in v),
    OBJECT: lambda v: isinstance(v, dict),
    URL: lambda v: isinstance(v, str) and urlsplit(v).scheme in ("http", "https") and bool(urlsplit(v).hostname),
}


@dataclass(frozen=True)
class FieldSpec:
    """The fields one request shape accepts: their kinds, which are required, which may be blank."""

    kinds: Mapping[str, str]
    required: frozenset[str] = frozenset()
    may_be_blank: frozenset[str] = field(default_factory=frozenset)  # required text that may be ""


def field_error(name: str, message: str, *, operation: str, prefix: str = "") -> BadRequest:
    """The BadRequest for one field; ``prefix`` names the enclosing object (``gen_params.``)."""
    return BadRequest(message, field=f"{prefix}{name}", operation=operation)


def reject_notify_hook(params: Mapping[str, Any], *, operation: str, prefix: str = "") -> None:
    """notify_hook is added by the worker, which owns the callback URL and its token."""
    if "notify_hook" in params:
        message = "notify_hook is set by hookline (the worker adds the signed callback URL); leave it out"
        raise field_error("notify_hook", message, operation=operation, prefix=prefix)


def drop_nulls(params: Mapping[str, Any]) -> dict[str, Any]:
    """The params without keys whose value is None: the upstream's examples send null for 'not given'."""
    return {key: value for key, value in params.items() if value is not None}


def check_fields(params: Mapping[str, Any], spec: FieldSpec, *, operation: str, prefix: str = "") -> None:
    """Unknown fields, missing required fields and wrong kinds, each named in the error."""
    where = {"operation": operation, "prefix": prefix}
    for name in params:
        if name not in spec.kinds:
            accepted = ", ".join(sorted(spec.kinds))
            raise field_error(name, f"unknown field {prefix}{name!r} for {operation}; accepted: {accepted}", **where)
    for name in sorted(spec.required):
        if name not in params:
            raise field_error(name, f"{prefix}{name} is required for {operation}", **where)
    for name, value in params.items():
        kind = spec.kinds[name]
        if not _KIND_TESTS[kind](value):
            wrong = f"{prefix}{name} must be {KIND_DESCRIPTIONS[kind]}, got {type(value).__name__}"
            raise field_error(name, wrong, **where)
        if name not in spec.required:
            continue
        if kind == TEXT and name not in spec.may_be_blank and not value.strip():
            raise field_error(name, f"{prefix}{name} must not be blank", **where)
        if kind == TEXT_LIST and not value:
            raise field_error(name, f"{prefix}{name} must not be empty", **where)


def check_at_least(params: Mapping[str, Any], name: str, minimum: float, *, operation: str, prefix: str = "") -> None:
    """A present number field (or a numeric string, for SECONDS) is >= minimum."""
    if name in params and (as_number(params[name]) or 0.0) < minimum:
        message = f"{prefix}{name} must be >= {minimum:g}, got {params[name]}"
        raise field_error(name, message, operation=operation, prefix=prefix)


def check_between(
    params: Mapping[str, Any], name: str, low: float, high: float, *, operation: str, prefix: str = ""
) -> None:
    """A present number field lies in [low, high]."""
    if name in params and not low <= params[name] <= high:
        message = f"{prefix}{name} must be between {low:g} and {high:g}, got {params[name]}"
        raise field_error(name, message, operation=operation, prefix=prefix)


def check_span(params: Mapping[str, Any], start: str, end: str, *, operation: str, prefix: str = "") -> None:
    """A span: ``end > start >= 0`` when both fields are present (seconds, or fractions of a song)."""
    check_at_least(params, start, 0, operation=operation, prefix=prefix)
    if start in params and end in params and not params[end] > params[start]:
        message = f"{prefix}{end} ({params[end]}) must be greater than {prefix}{start} ({params[start]})"
        raise field_error(end, message, operation=operation, prefix=prefix)


def check_choice(
    params: Mapping[str, Any], name: str, choices: tuple[Any, ...], *, operation: str, prefix: str = ""
) -> None:
    """A present field is one of ``choices``."""
    if name in params and params[name] not in choices:
        listed = ", ".join(repr(choice) for choice in choices)
        message = f"{prefix}{name} must be one of {listed}, got {params[name]!r}"
        raise field_error(name, message, operation=operation, prefix=prefix)


@dataclass(frozen=True)
class FlatRules:
    """The request rules of an operation whose body is one flat JSON object, checked against one FieldSpec."""

    spec: FieldSpec

    def validate(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """The payload to send (a copy without nulls), or BadRequest naming the field."""
        reject_notify_hook(params, operation=operation)
        payload = copy.deepcopy(drop_nulls(params))
        check_fields(payload, self.spec, operation=operation)
        return payload

    def accepted_fields(self, params: Mapping[str, Any]) -> frozenset[str] | None:
        return frozenset(self.spec.kinds)

    def form(self) -> tuple[str | None, FieldSpec]:
        """The fields a form (the CLI's flags) offers: (the object they sit in, or None for the top level, spec)."""
        return None, self.spec


# Which text fields each length limit covers (top level, or inside Udio's gen_params).
PROMPT_FIELDS = frozenset({"prompt", "gpt_description_prompt", "continued_aligned_prompt", "lyrics"})
TAGS_FIELDS = frozenset({"tags", "negative_tags", "negative_prompt"})
TITLE_FIELDS = frozenset({"title"})


@dataclass(frozen=True)
class TextLimits:
    """The longest prompt, tags and title accepted, in characters (the settings HOOKLINE_MAX_*_CHARS)."""

    prompt: int = 10_000
    tags: int = 1_000
    title: int = 200

    def limit_for(self, name: str) -> tuple[int, str] | None:
        """(limit, setting name) for a field the limits cover, else None."""
        if name in PROMPT_FIELDS:
            return self.prompt, "HOOKLINE_MAX_PROMPT_CHARS"
        if name in TAGS_FIELDS:
            return self.tags, "HOOKLINE_MAX_TAGS_CHARS"
        if name in TITLE_FIELDS:
            return self.title, "HOOKLINE_MAX_TITLE_CHARS"
        return None


DEFAULT_TEXT_LIMITS = TextLimits()


def check_text_lengths(payload: Mapping[str, Any], limits: TextLimits, *, operation: str, prefix: str = "") -> None:
    """Prompt, tags and title within their limits (Udio's ``gen_params`` too), else BadRequest naming the field."""
    for name, value in payload.items():
        if name == "gen_params" and isinstance(value, Mapping) and not prefix:
            check_text_lengths(value, limits, operation=operation, prefix="gen_params.")
            continue
        found = limits.limit_for(name)
        if found is not None and isinstance(value, str) and len(value) > found[0]:
            message = (f"{prefix}{name} is {len(value)} characters; the limit is {found[0]} "
                       f"(raise it with {found[1]})")
            raise field_error(name, message, operation=operation, prefix=prefix)
