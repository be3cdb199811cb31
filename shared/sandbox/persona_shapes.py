"""The persona object /suno/persona/create answers with (scraped page 002), clips in Suno's feed shape."""

from __future__ import annotations

import time
from typing import Any

from .persona_book import PersonaRecord

SANDBOX_USER = {"user_id": "sandbox-user", "display_name": "Sandbox", "handle": "sandbox"}


def iso_time(unix: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(unix))


def feed_clip(rendered: dict[str, Any], created: float) -> dict[str, Any]:
    """A task clip (task_shapes.render_clip) with the extra fields Suno's feed clips carry."""
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
