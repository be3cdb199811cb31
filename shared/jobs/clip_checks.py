"""The checks a pipeline makes against the clips it knows, made for single jobs too, before anything is paid.

A single job names its source clip by id. When that clip came from one of our own jobs, its row says how long it is
and which model made it, so two refusals the upstream would make (after charging nothing, but after a wasted call
and a failed job) are made here instead:

- a time into the clip (``continue_at`` of an extend, an infill's or a repaint's span: the registry's
  ``time_fields``) past the clip's end;
- a persona whose source clip (``root_clip_id``, or for artist_consistency the persona's own source) was not made
  with the persona model (``chirp-auk``).

A clip hookline never saw is not refused: the upstream is the judge of those.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.cometapi.field_rules import as_number
from shared.cometapi.music_modes import PERSONA_SOURCE_MODEL, known_model
from shared.cometapi.operation_record import CLIP_ID
from shared.cometapi.operations import PERSONA, REGISTRY
from shared.errors import ValidationError
from shared.models import Clip, Job

DURATION_TOLERANCE = 0.01  # durations are rounded to 2 decimals upstream


def _clip(session: Session, clip_id: Any) -> Clip | None:
    if not isinstance(clip_id, str) or not clip_id.strip():
        return None
    newest = select(Clip).where(Clip.clip_id == clip_id.strip()).order_by(Clip.id.desc()).limit(1)
    return session.scalars(newest).first()


def _check_times(session: Session, operation: str, payload: Mapping[str, Any], where: str | None) -> None:
    record = REGISTRY.get(operation)
    if record is None:
        return
    task = payload.get("task")
    for step in record.steps:
        if not step.time_fields or step.preset.get("task", None) != task:
            continue
        clip_param = next((param for param, origin in step.binds.items() if origin == CLIP_ID), None)
        clip = _clip(session, payload.get(clip_param)) if clip_param else None
        if clip is None or clip.duration is None:
            continue
        for name in step.time_fields:
            value = as_number(payload.get(name))
            if value is not None and value > clip.duration + DURATION_TOLERANCE:
                raise ValidationError(f"{name} {payload[name]} is past the end of clip {clip.clip_id} "
                                      f"({clip.duration:g} s)", field=f"params.{name}", where=where)


def _persona_source_problem(clip: Clip | None) -> str | None:
    model = clip.model_name if clip is not None else None
    known = known_model(model) if model else None
    if known is None or known == PERSONA_SOURCE_MODEL:  # a model we do not know: the upstream judges it
        return None
    return (f"clip {clip.clip_id} was made with {model}; a persona's source song must be made with "  # type: ignore[union-attr]
            f"{PERSONA_SOURCE_MODEL}")


def _check_persona(session: Session, operation: str, payload: Mapping[str, Any], where: str | None) -> None:
    if operation == PERSONA:
        problem = _persona_source_problem(_clip(session, payload.get("root_clip_id")))
        if problem:
            raise ValidationError(problem, field="params.root_clip_id", where=where)
    persona_id = payload.get("persona_id")
    if payload.get("task") == "artist_consistency" and isinstance(persona_id, str) and persona_id.strip():
        made = session.scalars(select(Job).where(Job.operation == PERSONA,
                                                 Job.upstream_task_id == persona_id.strip()).limit(1)).first()
        root = (made.params or {}).get("root_clip_id") if made is not None else None
        problem = _persona_source_problem(_clip(session, root))
        if problem:
            raise ValidationError(f"persona {persona_id} comes from {problem}", field="params.persona_id", where=where)


def check_known_clips(session: Session, operation: str, payload: Mapping[str, Any], *,
                      where: str | None = None) -> None:
    """ValidationError when ``payload`` asks for a time past the end of a clip we know, or uses a persona whose
    source clip we know was not made with the persona model; nothing when the clips are not ours to know."""
    _check_times(session, operation, payload, where)
    _check_persona(session, operation, payload, where)
