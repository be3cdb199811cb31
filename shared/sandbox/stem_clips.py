"""The stem clips of a source clip, for task=gen_stem and for the separation endpoints.

Each stem lasts as long as its source. Its audio is a tune of its own (the sandbox does no real
separation); vocal stems keep the source's lyrics in metadata.prompt, the others have none."""

from __future__ import annotations

from .clip_factory import make_clip
from .music_modes import STEM_SETS
from .task_records import ClipRecord, StemOrigin

STEM_MODEL_NAME = "chirp-stem"  # what CometAPI's stem page shows stem clips reporting
DEFAULT_STEM_TYPE_ID = 91  # the id the stem page sends with stem_task "two"
VOCAL_STEMS = ("Vocals", "Backing Vocals")


def stem_clips(
    source: ClipRecord,
    task_id: str,
    mode: str,
    *,
    stem_task: str,
    stem_type_group_name: str | None = None,
    stem_type_id: int | None = DEFAULT_STEM_TYPE_ID,
) -> list[ClipRecord]:
    group = stem_type_group_name or stem_task.capitalize()
    return [
        make_clip(
            task_id,
            index,
            title=f"{source.title} ({name})",
            tags=source.tags,
            prompt=source.prompt if name in VOCAL_STEMS else "",
            model_name=STEM_MODEL_NAME,
            major_model_version=source.major_model_version,
            duration=source.duration,
            mode=mode,
            kind="gen_stem",
            parent_clip_id=source.clip_id,
            stem=StemOrigin(source.clip_id, name, stem_task, group, stem_type_id),
        )
        for index, name in enumerate(STEM_SETS[stem_task])
    ]
