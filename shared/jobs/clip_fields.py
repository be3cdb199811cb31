"""What of an upstream clip may be stored: each field checked and cleaned, never trusted as sent.

Invalid fields are stored as None (or left out of ``meta``), not refused with a 400. A callback that reached this
point carries a valid capability token, so it is the upstream's own, and its status is the truth about the job:
refusing a COMPLETE because of one bad display field would leave the job waiting for a fetch that reports the same
bad value, until it timed out. So the state is taken and the bad field is dropped.
"""

from __future__ import annotations

import math
from typing import Any

from shared.cometapi.answers import clip_metadata

MAX_CLIP_SECONDS = 24 * 3600.0  # no clip runs a day: a longer "duration" is garbage, not a number to keep
MAX_META_DEPTH = 16  # metadata nested deeper than this is dropped: no real clip carries it
STATUS_LENGTH, MODEL_NAME_LENGTH = 16, 64  # the columns' sizes (PostgreSQL refuses longer values)
CLIP_ID_LENGTH = 128  # clips.clip_id and artifacts.clip_id
TASK_ID_LENGTH = 128  # jobs.upstream_task_id and upstream_attempts.upstream_task_id
URL_FIELDS = ("audio_url", "image_url", "image_large_url", "video_url")


def clean_duration(value: Any) -> float | None:
    """Seconds as a finite float in [0, MAX_CLIP_SECONDS]; None for anything else (negative, NaN, infinite,
    absurd, non-numeric, a bool). Numeric strings are read. Never raises: ``float(10**400)`` would."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    if isinstance(value, int):  # compared as an int first: float() of a huge int raises OverflowError
        return float(value) if 0 <= value <= MAX_CLIP_SECONDS else None
    try:
        seconds = float(value)
    except (ValueError, OverflowError):
        return None
    return seconds if math.isfinite(seconds) and 0 <= seconds <= MAX_CLIP_SECONDS else None


def clean_text(value: Any, limit: int | None = None) -> str | None:
    """A string without NUL characters (PostgreSQL refuses them), cut to ``limit``; None for a non-string."""
    if not isinstance(value, str):
        return None
    text = value.replace("\x00", "")
    return text[:limit] if limit is not None else text


def id_problem(what: str, value: str, limit: int) -> str | None:
    """Why an upstream id cannot be stored as sent in its ``limit``-character column, or None when it can.

    An id is never cut or cleaned to make it fit: two ids sharing their first ``limit`` characters (or differing
    only by a NUL) would then become one, merging two clips, or naming a task that is not ours."""
    if "\x00" in value:
        return f"{what} {value[:40]!r} contains a NUL character, which cannot be stored"
    if len(value) > limit:
        return f"{what} of {len(value)} characters is longer than the {limit} the column holds"
    return None


def clip_id_problem(clips: list[dict[str, Any]]) -> str | None:
    """Why a snapshot's clips cannot be stored (the first clip id that does not fit), or None."""
    for raw in clips:
        problem = id_problem("clip id", str(raw["id"]), CLIP_ID_LENGTH)
        if problem is not None:
            return problem
    return None


def json_safe(value: Any, depth: int = 0) -> Any:
    """``value`` with every NaN or infinite float made None (they are not JSON, and PostgreSQL refuses them),
    NUL characters taken out of its strings and keys (PostgreSQL text cannot hold them), and anything nested
    deeper than MAX_META_DEPTH dropped."""
    if depth > MAX_META_DEPTH:
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {str(k).replace("\x00", ""): json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v, depth + 1) for v in value]
    return value


def clip_values(raw: dict[str, Any]) -> dict[str, Any]:
    """The column values of one upstream clip, each cleaned: what ``store_clips`` writes."""
    metadata = clip_metadata(raw)
    duration = clean_duration(metadata.get("duration"))
    meta = json_safe(metadata)
    if "duration" in meta:
        meta["duration"] = duration  # the cleaned value, never the raw one
    return {
        "title": clean_text(raw.get("title")),
        "status": clean_text(raw.get("status"), STATUS_LENGTH),
        **{key: clean_text(raw.get(key)) or None for key in URL_FIELDS},
        "duration": duration,
        "model_name": clean_text(raw.get("model_name"), MODEL_NAME_LENGTH),
        "meta": meta,
    }
