"""Build the MUSIC tasks of upload, concat and separation: one uploaded clip, one whole song, or stems."""

from __future__ import annotations

from .clip_factory import make_clip
from .concat_plan import ConcatPlan
from .fault_plan import FaultPlan
from .stem_clips import stem_clips
from .task_builder import Submission, assemble_task, new_task_id
from .task_records import MUSIC, ClipRecord, TaskRecord
from .upload_source import UploadedAudio

UPLOAD_MODEL_NAME = "chirp-upload"
UPLOAD_MAJOR_VERSION = "upload"
# Separation endpoint -> the stem_task it runs: the single split keeps vocals apart from the rest.
SEPARATION_STEM_TASKS = {"single": "two", "full": "twelve"}


def build_upload_task(audio: UploadedAudio, title: str | None, submission: Submission, faults: FaultPlan) -> TaskRecord:
    task_id = new_task_id()
    clip = make_clip(
        task_id,
        0,
        title=title or audio.title_hint,
        tags="",
        prompt="",
        model_name=UPLOAD_MODEL_NAME,
        major_model_version=UPLOAD_MAJOR_VERSION,
        duration=audio.duration,
        mode="upload",
        kind="upload",
        recipe=audio.recipe,
    )
    return assemble_task(task_id, MUSIC, "upload", submission, faults, clips=[clip])


def build_concat_task(plan: ConcatPlan, submission: Submission, faults: FaultPlan) -> TaskRecord:
    task_id = new_task_id()
    source = plan.clip
    clip = make_clip(
        task_id,
        0,
        title=source.title,
        tags=source.tags,
        prompt=plan.prompt,
        model_name=source.model_name,
        major_model_version=source.major_model_version,
        duration=plan.duration,
        mode="concat",
        kind="concat",
        recipe=plan.recipe,
        parent_clip_id=source.clip_id,
    )
    return assemble_task(task_id, MUSIC, "concat", submission, faults, clips=[clip])


def build_separation_task(source: ClipRecord, separation: str, submission: Submission, faults: FaultPlan) -> TaskRecord:
    task_id = new_task_id()
    mode = f"separation_{separation}"
    clips = stem_clips(source, task_id, mode, stem_task=SEPARATION_STEM_TASKS[separation])
    return assemble_task(task_id, MUSIC, mode, submission, faults, clips=clips)
