"""Render internal records in the exact public shapes: the task object, clips, and lyrics data."""

from __future__ import annotations

from typing import Any

from .task_records import (
    COMPLETE,
    FAILED,
    LYRICS,
    NOT_START,
    PROGRESS,
    ClipRecord,
    TaskRecord,
)


def clip_audio_url(base_url: str, clip_id: str, *, complete: bool) -> str:
    # Like Suno: a streaming pipe while the clip is being made, a CDN file once it is complete.
    if complete:
        return f"{base_url}cdn/audio/{clip_id}.mp3"
    return f"{base_url}audiopipe/?item_id={clip_id}"


def render_metadata(clip: ClipRecord, task: TaskRecord) -> dict[str, Any]:
    complete = task.status == COMPLETE
    failed = task.status == FAILED
    metadata: dict[str, Any] = {
        "tags": clip.tags,
        "prompt": clip.prompt,
        "duration": clip.duration if complete else None,
        "gpt_description_prompt": clip.gpt_description_prompt,
        "error_type": "generation_failed" if failed else None,
        "error_message": task.fail_reason if failed else None,
        "audio_prompt_id": None,
        "type": clip.kind,
    }
    if clip.stem is not None:
        metadata.update(
            stem_from_id=clip.stem.stem_from_id,
            stem_name=clip.stem.stem_name,
            stem_task=clip.stem.stem_task,
            stem_type_group_name=clip.stem.stem_type_group_name,
            stem_type_id=clip.stem.stem_type_id,
        )
    if clip.kind == "concat":
        metadata["concat_from_id"] = clip.parent_clip_id
    return metadata


def render_clip(clip: ClipRecord, task: TaskRecord) -> dict[str, Any]:
    complete = task.status == COMPLETE
    failed = task.status == FAILED
    base = task.media_base_url
    return {
        "id": clip.clip_id,
        "title": clip.title,
        "status": "complete" if complete else "error" if failed else "streaming",
        "metadata": render_metadata(clip, task),
        "audio_url": "" if failed else clip_audio_url(base, clip.clip_id, complete=complete),
        "image_url": f"{base}cdn/image/{clip.clip_id}.png",
        "image_large_url": f"{base}cdn/image_large/{clip.clip_id}.png",
        "video_url": "",
        "model_name": clip.model_name,
        "major_model_version": clip.major_model_version,
    }


def render_task_data(task: TaskRecord) -> Any:
    if task.action == LYRICS:
        if task.status != COMPLETE or task.lyrics is None:
            return None
        return {"text": task.lyrics.text, "title": task.lyrics.title, "status": "complete"}
    if task.status == NOT_START or (task.status == FAILED and not task.start_time):
        return None
    return [render_clip(clip, task) for clip in task.clips]


def render_task(task: TaskRecord) -> dict[str, Any]:
    """The task object exactly as GET /suno/fetch/<id> puts it in `data` (and as callbacks carry it)."""
    return {
        "task_id": task.task_id,
        "notify_hook": task.notify_hook,
        "action": task.action,
        "status": task.status,
        "fail_reason": task.fail_reason,
        "submit_time": int(task.submit_time),
        "start_time": int(task.start_time),
        "finish_time": int(task.finish_time),
        "progress": PROGRESS[task.status],
        "data": render_task_data(task),
    }
