"""Bind a ready step's params from its sources' output: pure, so it is tested without a database.

``bind_step`` reads job outputs (``JobOutput``) and returns the params of the job(s) to create, or raises
``BindingFailed`` naming the field (the step then fails with that reason, and nothing is sent upstream).
Explicit params always win over bound ones; bound ones over the op's defaults.

Fan-out: ``pick: each`` makes one job per clip of the (single) source job, ``fan_index`` 0..n-1 in clip order.
A step whose source is fanned fans out too, 1:1: child ``i`` binds to the source's child ``i`` and picks within it
(default clip 0); a persona from a fanned step is matched by branch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.cometapi.field_rules import as_number
from shared.errors import ValidationError
from shared.pipelines.step_kinds import (
    CLIP_ID,
    CLIP_ID_LIST,
    CLIPS,
    DURATION_TOLERANCE,
    LYRICS_TEXT,
    LYRICS_TITLE,
    PERSONA_ID,
    SOURCE_MV,
    TASK_ID,
    StepKind,
)


class BindingFailed(ValidationError):
    """A step's inputs cannot be bound from its sources' output (no clip to pick, a time past the clip's end)."""


@dataclass(frozen=True)
class ClipOutput:
    clip_id: str
    duration: float | None
    position: int


@dataclass(frozen=True)
class JobOutput:
    """What a finished job yields for later steps."""

    job_id: str
    fan_index: int | None
    upstream_task_id: str | None
    clips: tuple[ClipOutput, ...] = ()
    result: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BoundJob:
    fan_index: int | None
    params: dict[str, Any]


@dataclass(frozen=True)
class StepInputs:
    """The parts of a step spec that binding reads."""

    name: str
    kind: StepKind
    params: Mapping[str, Any]
    source: str | None = None
    pick: int | str | None = None
    persona: str | None = None


def pick_clip(step: StepInputs, output: JobOutput) -> ClipOutput:
    clips = sorted(output.clips, key=lambda c: c.position)
    where = f"step {step.name}"
    if not clips:
        raise BindingFailed(f"step {step.source} (job {output.job_id}) produced no clips", field="from", where=where)
    if step.pick == "longest":
        return max(clips, key=lambda c: (c.duration if c.duration is not None else -1.0, -c.position))
    index = int(step.pick or 0)
    if index >= len(clips):
        raise BindingFailed(f"pick {index}, but step {step.source} produced {len(clips)} clip(s)",
                            field="pick", where=where)
    return clips[index]


def _bound_values(step: StepInputs, source: JobOutput | None, clip: ClipOutput | None,
                  persona: JobOutput | None) -> dict[str, Any]:
    where = f"step {step.name}"
    values: dict[str, Any] = {}
    for param, origin in step.kind.binds.items():
        if origin == PERSONA_ID:
            if persona is None:
                continue
            persona_id = persona.result.get("persona_id")
            if not isinstance(persona_id, str) or not persona_id:
                raise BindingFailed(f"step {step.persona} (job {persona.job_id}) produced no persona_id",
                                    field="persona", where=where)
            values[param] = persona_id
        elif source is None:
            continue
        elif origin in (CLIP_ID, CLIP_ID_LIST) and clip is not None:
            values[param] = clip.clip_id if origin == CLIP_ID else [clip.clip_id]
        elif origin == TASK_ID:
            if not source.upstream_task_id:
                raise BindingFailed(f"step {step.source} (job {source.job_id}) has no upstream task id",
                                    field=f"params.{param}", where=where)
            values[param] = source.upstream_task_id
        elif origin == SOURCE_MV and isinstance(source.params.get("mv"), str):
            values[param] = source.params["mv"]
        elif origin in (LYRICS_TEXT, LYRICS_TITLE):
            lyrics = source.result.get("lyrics") or {}
            value = lyrics.get("text" if origin == LYRICS_TEXT else "title")
            if not isinstance(value, str) or not value.strip():
                raise BindingFailed(f"step {step.source} (job {source.job_id}) produced no lyrics {param}",
                                    field=f"params.{param}", where=where)
            values[param] = value
    return values


def _check_times(step: StepInputs, params: Mapping[str, Any], clip: ClipOutput | None) -> None:
    """A time into the picked clip must not pass its end: caught here, before the upstream is asked (and paid)."""
    clip_param = next((p for p, origin in step.kind.binds.items() if origin == CLIP_ID), None)
    if clip is None or clip.duration is None or clip_param is None or params.get(clip_param) != clip.clip_id:
        return
    for name in step.kind.time_fields:
        value = as_number(params.get(name))  # continue_at may be a number or a string holding one
        if value is None:
            continue
        if value > clip.duration + DURATION_TOLERANCE:
            raise BindingFailed(f"{name} {value:g} is past the end of clip {clip.clip_id} ({clip.duration:g} s)",
                                field=f"params.{name}", where=f"step {step.name}")


def _one_job(step: StepInputs, fan_index: int | None, source: JobOutput | None, clip: ClipOutput | None,
             persona: JobOutput | None) -> BoundJob:
    bound = _bound_values(step, source, clip, persona)
    params = {**step.kind.defaults, **bound, **step.params, **step.kind.preset}
    _check_times(step, params, clip)
    return BoundJob(fan_index, params)


def _persona_for(step: StepInputs, personas: Sequence[JobOutput] | None, fan_index: int | None) -> JobOutput | None:
    if not step.persona or not personas:
        return None
    if len(personas) == 1:
        return personas[0]
    # A fanned persona step is only referenced from the same fan (checked in the spec): match the branch.
    return next((p for p in personas if p.fan_index == fan_index), None)


def bind_step(step: StepInputs, sources: Sequence[JobOutput] | None,
              personas: Sequence[JobOutput] | None = None) -> list[BoundJob]:
    """The job(s) a ready step creates: params bound from its sources' succeeded job(s), explicit params on top."""
    if not step.source or sources is None:
        return [_one_job(step, None, None, None, _persona_for(step, personas, None))]
    ordered = sorted(sources, key=lambda o: -1 if o.fan_index is None else o.fan_index)
    takes_clips = step.kind.takes == CLIPS
    if step.pick == "each":
        (source,) = ordered
        clips = sorted(source.clips, key=lambda c: c.position)
        if not clips:
            raise BindingFailed(f"step {step.source} (job {source.job_id}) produced no clips to fan out over",
                                field="pick", where=f"step {step.name}")
        return [_one_job(step, i, source, clip, _persona_for(step, personas, i)) for i, clip in enumerate(clips)]
    fanned = len(ordered) > 1 or ordered[0].fan_index is not None
    jobs = []
    for source in ordered:
        fan_index = source.fan_index if fanned else None
        clip = pick_clip(step, source) if takes_clips else None
        jobs.append(_one_job(step, fan_index, source, clip, _persona_for(step, personas, fan_index)))
    return jobs
