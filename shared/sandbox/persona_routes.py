"""POST /suno/persona/create (scraped page 002), also at the summary's /suno/submit/persona.

It answers at once, with the bare persona object ``{"id": persona_id, …}`` (no envelope, no task). The
persona may be made from any complete clip; artist_consistency later accepts it only if that root clip
was made with chirp-auk."""

from __future__ import annotations

import time
import uuid

from flask import Blueprint, Response, jsonify

from .api_errors import field_error
from .field_checks import optional_bool, optional_str, optional_str_list, require_str
from .persona_book import PersonaRecord
from .persona_shapes import render_persona
from .route_helpers import request_json_object
from .runtime import current_runtime

persona_routes = Blueprint("sandbox_personas", __name__, url_prefix="/suno")


def known_clip_ids(field: str, clip_ids: list[str]) -> tuple[str, ...]:
    store = current_runtime().store
    for clip_id in clip_ids:
        if store.clip_facts(clip_id) is None:
            raise field_error(field, f"unknown clip {clip_id!r}")
    return tuple(clip_id.strip() for clip_id in clip_ids)


@persona_routes.post("/persona/create")
@persona_routes.post("/submit/persona")
def create_persona() -> Response:
    runtime = current_runtime()
    body = request_json_object()
    root_clip_id = require_str(body, "root_clip_id").strip()
    root = runtime.store.clip_copy(root_clip_id)
    if root is None:
        raise field_error("root_clip_id", f"unknown clip {root_clip_id!r}")
    if not runtime.store.is_complete(root_clip_id):
        raise field_error("root_clip_id", f"clip {root_clip_id!r} is not complete yet")
    name = require_str(body, "name")
    description = optional_str(body, "description") or ""
    clip_ids = known_clip_ids("clips", optional_str_list(body, "clips")) or (root_clip_id,)
    persona = PersonaRecord(
        persona_id=str(uuid.uuid4()),
        name=name,
        description=description,
        root_clip_id=root_clip_id,
        root_model_name=root.model_name,
        clip_ids=clip_ids,
        is_public=optional_bool(body, "is_public"),
        created=time.time(),
    )
    runtime.personas.add(persona)
    if runtime.faults.roll("ambiguous_rate"):  # a paid submit: created, but the answer comes too late
        runtime.pause(runtime.faults.value("ambiguous_sleep"))
    clips = runtime.store.render_feed_clips([root_clip_id, *clip_ids])
    return jsonify(render_persona(persona, clips))
