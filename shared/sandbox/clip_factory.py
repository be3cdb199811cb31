"""Make a new ClipRecord: a fresh id, and (unless given) a recipe of its own seeded tune of its duration."""

from __future__ import annotations

import uuid

from .audio_recipe import Recipe, fresh_recipe
from .task_records import ClipRecord, StemOrigin


def make_clip(
    task_id: str,
    index: int,
    *,
    title: str,
    tags: str,
    prompt: str,
    model_name: str,
    major_model_version: str,
    duration: float,
    mode: str,
    gpt_description_prompt: str | None = None,
    kind: str = "gen",
    recipe: Recipe | None = None,
    parent_clip_id: str | None = None,
    continue_at: float | None = None,
    edit_range: tuple[float, float] | None = None,
    stem: StemOrigin | None = None,
) -> ClipRecord:
    clip_id = str(uuid.uuid4())
    return ClipRecord(
        clip_id=clip_id,
        task_id=task_id,
        index=index,
        title=title,
        tags=tags,
        prompt=prompt,
        gpt_description_prompt=gpt_description_prompt,
        model_name=model_name,
        major_model_version=major_model_version,
        duration=duration,
        mode=mode,
        parent_clip_id=parent_clip_id,
        continue_at=continue_at,
        edit_range=edit_range,
        kind=kind,
        recipe=recipe if recipe is not None else fresh_recipe(clip_id, duration),
        stem=stem,
    )
