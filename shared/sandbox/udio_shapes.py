"""A Udio song as GET /udio/query lists it: `finished` turns true once the generation is done."""

from __future__ import annotations

import time
from typing import Any

from .task_records import COMPLETE, FAILED, ClipRecord, TaskRecord

SANDBOX_ARTIST = "Sandbox"


def render_song(clip: ClipRecord, task: TaskRecord) -> dict[str, Any]:
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
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(task.submit_time)),
        "model_type": clip.model_name,
    }
