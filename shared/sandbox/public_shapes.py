"""Internal records rendered in the exact JSON shapes clients see.

- The Suno task object (GET /suno/fetch and every callback) and its clips: ``render_task``, ``render_clip``.
- A clip in Suno's feed shape, and the persona /suno/persona/create answers with: ``feed_clip``,
  ``render_persona``.
- A Udio song as GET /udio/query lists it: ``render_song``.
"""

from __future__ import annotations

import time
from typing import Any

from .task_records import COMPLETE, FAILED, LYRICS, NOT_START, PROGRESS, ClipRecord, PersonaRecord, TaskRecord

SANDBOX_USER = {"user_id": "sandbox-user", "display_name": "Sandbox", "handle": "sandbox"}
SANDBOX_ARTIST = "Sandbox"  # a Udio song's artist


def iso_time(unix: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(unix))


# --- Suno tasks and clips --------------------------------------------------------------------------------------


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


# --- feed clips and personas -----------------------------------------------------------------------------------


def feed_clip(rendered: dict[str, Any], created: float) -> dict[str, Any]:
    """A task clip (render_clip) with the extra fields Suno's feed clips carry."""
    metadata = {
        **rendered["metadata"],
        "refund_credits": False,
        "stream": True,
        "can_remix": True,
        "is_remix": False,
        "priority": 0,
    }
    return {
        "id": rendered["id"],
        "entity_type": "song_schema",
        "video_url": rendered["video_url"],
        "audio_url": rendered["audio_url"],
        "image_url": rendered["image_url"],
        "image_large_url": rendered["image_large_url"],
        "major_model_version": rendered["major_model_version"],
        "model_name": rendered["model_name"],
        "metadata": metadata,
        "is_liked": False,
        **SANDBOX_USER,
        "is_handle_updated": False,
        "avatar_image_url": "",
        "is_trashed": False,
        "flag_count": 0,
        "display_tags": rendered["metadata"]["tags"],
        "created_at": iso_time(created),
        "status": rendered["status"],
        "title": rendered["title"],
        "play_count": 0,
        "upvote_count": 0,
        "is_public": True,
        "allow_comments": True,
    }


def render_persona(persona: PersonaRecord, clips: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`clips`: feed clips by id, for the root clip and every persona clip."""
    root = clips[persona.root_clip_id]
    return {
        "id": persona.persona_id,
        "name": persona.name,
        "description": persona.description,
        "image_s3_id": root["image_large_url"],
        "root_clip_id": persona.root_clip_id,
        "clip": root,
        "user_display_name": SANDBOX_USER["display_name"],
        "user_handle": SANDBOX_USER["handle"],
        "user_image_url": "",
        "persona_clips": [{"clip": clips[clip_id], "id": number} for number, clip_id in enumerate(persona.clip_ids, 1)],
        "is_suno_persona": True,
        "is_trashed": False,
        "is_owned": True,
        "is_public": persona.is_public,
        "is_public_approved": False,
        "is_loved": False,
        "upvote_count": 0,
        "clip_count": len(persona.clip_ids),
    }


# --- Udio songs ------------------------------------------------------------------------------------------------


def render_song(clip: ClipRecord, task: TaskRecord) -> dict[str, Any]:
    """`finished` turns true once the generation is done (or has failed)."""
    finished = task.status == COMPLETE
    failed = task.status == FAILED
    base = task.media_base_url
    return {
        "id": clip.clip_id,
        "generation_id": task.task_id,
        "title": clip.title,
        "artist": SANDBOX_ARTIST,
        "lyrics": clip.prompt,
        "prompt": clip.gpt_description_prompt or "",
        "tags": [tag for tag in clip.tags.split(", ") if tag],
        "duration": clip.duration if finished else None,
        "song_path": f"{base}cdn/audio/{clip.clip_id}.mp3" if finished else "",
        "image_path": f"{base}cdn/image/{clip.clip_id}.png",
        "video_path": "",
        "finished": finished or failed,
        "error_id": None,
        "error_type": "generation_failed" if failed else None,
        "error_detail": task.fail_reason if failed else None,
        "created_at": iso_time(task.submit_time),
        "model_type": clip.model_name,
    }
