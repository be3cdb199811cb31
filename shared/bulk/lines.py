"""One line of a bulk file: what it may hold, its idempotency key, and every problem with it (named by field)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from shared.bulk.source import RawLine
from shared.cometapi import price_for
from shared.config import Settings
from shared.errors import ValidationError
from shared.pipelines.estimate import NOTHING, CostEstimate, estimate_spec
from shared.pipelines.spec import Spec, SpecInvalid, SpecLimits, parse_spec
from shared.producer import NUL_MESSAGE, nul_path, validate_job

MAX_KEY_LENGTH = 255
ENTRY_FIELDS = frozenset({"operation", "params", "key", "callback_url", "pipeline", "name"})


@dataclass(frozen=True)
class LineError:
    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}" if self.field else f"line {self.line}: {self.message}"

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message}


class LineInvalid(ValidationError):
    """A bulk line has problems: the first is the message, all of them are in ``errors``."""

    def __init__(self, errors: list[LineError], *, where: str) -> None:
        super().__init__(errors[0].message, field=errors[0].field, where=where)
        self.errors = errors


@dataclass(frozen=True)
class BulkEntry:
    """One valid line: a job (operation + validated payload) or a pipeline (spec)."""

    line_no: int
    key: str
    operation: str | None = None
    payload: dict[str, Any] | None = None
    spec: dict[str, Any] | None = None
    name: str | None = None
    callback_url: str | None = None
    cost: CostEstimate = NOTHING  # the most the line may cost (a pipeline's fan-out counted at its cap)


def line_key(value: dict[str, Any]) -> str:
    """The idempotency key of a line without one: a hash of its content, key order and spacing aside."""
    canonical = json.dumps({k: v for k, v in value.items() if k != "key"}, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _parse_pipeline(spec: Any, limits: SpecLimits) -> tuple[Spec | None, list[tuple[str | None, str]]]:
    """The parsed spec (shared.pipelines.parse_spec), or every problem with it as (field, message)."""
    try:
        return parse_spec(spec, limits), []
    except SpecInvalid as exc:
        return None, [(_spec_field(e), e.message) for e in exc.errors]
    except ValidationError as exc:
        return None, [(_spec_field(exc), exc.message)]


def _spec_field(error: ValidationError) -> str:
    """``pipeline.steps.mix.params.mv``-style names for a spec error (its where + field)."""
    parts = [p.replace("step ", "steps.") for p in (error.where, error.field) if p and p != "spec"]
    return ".".join(["pipeline", *parts])


def entry_from_line(settings: Settings, raw: RawLine) -> BulkEntry:
    """The valid entry of one line, or ValidationError (LineInvalid, with every problem of the line)."""
    from shared.net.callback_urls import check_callback_url

    where = f"line {raw.line_no}"
    if raw.error is not None or raw.value is None:
        raise raw.error or ValidationError("unreadable", where=where)
    value = raw.value
    problems: list[tuple[str | None, str]] = []
    unknown = sorted(set(value) - ENTRY_FIELDS)
    problems += [(name.replace("\x00", "\\x00"), "unknown field") for name in unknown]
    # NUL in the line's own fields or its pipeline (a job's params are checked by validate_job, below).
    bad = nul_path({k: v for k, v in value.items() if k != "params" or "pipeline" in value})
    if bad is not None:
        problems.append((bad, NUL_MESSAGE))
    key = value.get("key")
    if key is not None and (not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH):
        problems.append(("key", f"must be a non-empty string of at most {MAX_KEY_LENGTH} characters"))
    callback_url = value.get("callback_url")
    if callback_url is not None:
        try:
            callback_url = check_callback_url(settings, callback_url)
        except ValidationError as exc:
            problems.append((exc.field, exc.message))
    name = value.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 128):
        problems.append(("name", "must be a string of at most 128 characters"))
    payload, cost, limits = None, NOTHING, SpecLimits.of(settings)
    if "pipeline" in value:
        if "operation" in value or "params" in value:
            problems.append(("pipeline", "a line is a job (operation, params) or a pipeline, not both"))
        spec, errors = _parse_pipeline(value["pipeline"], limits)
        problems += errors
        cost = estimate_spec(spec, limits.max_fan_out) if spec is not None else NOTHING
    else:
        try:
            payload = validate_job(value.get("operation"), value.get("params", {}), text_limits=limits.text)
            cost = CostEstimate(price_for(str(value.get("operation")), payload))
        except ValidationError as exc:
            problems.append((exc.field, exc.message))
    if problems:
        raise LineInvalid([LineError(raw.line_no, f, m) for f, m in problems], where=where)
    return BulkEntry(raw.line_no, key if isinstance(key, str) else line_key(value), value.get("operation"), payload,
                     value.get("pipeline"), name, callback_url, cost)
