"""GET exports of a complete clip: wav, midi, mp4 (video) and timing (aligned lyrics).

CometAPI's paths are /suno/act/<kind>/<clip_id>; the summary's aliases /suno/wav, /suno/midi, /suno/mv and
/suno/timing answer the same. Each export first answers "running", then, STEP_SECONDS after the first
request, "complete" (export_board). An unknown clip is a 404; a clip whose task is not COMPLETE is a 400."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, jsonify

from .api_errors import SandboxApiError, field_error, success_response
from .audio_recipe import recipe_notes
from .export_board import ExportProgress
from .runtime import current_runtime
from .task_records import COMPLETE, MUSIC
from .task_store import MediaClip
from .timing_words import aligned_words

export_routes = Blueprint("sandbox_exports", __name__, url_prefix="/suno")

MIDI_INSTRUMENT = {"name": "Lead Synth", "program": 80, "is_drum": False}


def exportable_clip(clip_id: str, kind: str) -> MediaClip:
    view = current_runtime().store.clip_view(clip_id)
    if view is None or view.action != MUSIC:
        raise SandboxApiError(404, f"clip not found: {clip_id}")
    if view.task_status != COMPLETE:
        raise field_error(
            "clip_id", f"{kind} is only available once the clip's task is COMPLETE; it is {view.task_status}"
        )
    return view


def export_progress(kind: str, view: MediaClip) -> ExportProgress:
    runtime = current_runtime()
    wait = float(runtime.config["STEP_SECONDS"])
    return runtime.exports.progress(kind, view.clip.clip_id, time.time(), wait)


def file_export(kind: str, clip_id: str, url_field: str, cdn_path: str) -> Response:
    """wav and mp4: ``{"code":"success","message":"","data":{id, clip_id, state, <url_field>}}``."""
    view = exportable_clip(clip_id, kind)
    progress = export_progress(kind, view)
    url = f"{view.media_base_url}{cdn_path}" if progress.done else None
    return success_response(
        {
            "id": progress.export_id,
            "clip_id": view.clip.clip_id,
            "state": "complete" if progress.done else "running",
            url_field: url,
        }
    )


@export_routes.get("/act/wav/<clip_id>")
@export_routes.get("/wav/<clip_id>")
def wav_export(clip_id: str) -> Response:
    return file_export("wav", clip_id, "wav_url", f"cdn/wav/{clip_id}.wav")


@export_routes.get("/act/mp4/<clip_id>")
@export_routes.get("/mv/<clip_id>")
def mp4_export(clip_id: str) -> Response:
    return file_export("mp4", clip_id, "video_url", f"cdn/video/{clip_id}.mp4")


def midi_notes(view: MediaClip) -> list[dict[str, Any]]:
    return [
        {"pitch": note.pitch, "start": note.start_s, "end": note.end_s, "velocity": note.velocity}
        for note in recipe_notes(view.clip.recipe)
    ]


@export_routes.get("/act/midi/<clip_id>")
@export_routes.get("/midi/<clip_id>")
def midi_export(clip_id: str) -> Response:
    """The resellers' bare shape: ``{"state":"running"}``, later ``{"state":"complete","instruments":[…]}``."""
    view = exportable_clip(clip_id, "midi")
    if not export_progress("midi", view).done:
        return jsonify({"state": "running"})
    return jsonify(
        {
            "state": "complete",
            "clip_id": view.clip.clip_id,
            "instruments": [{**MIDI_INSTRUMENT, "notes": midi_notes(view)}],
            "midi_url": f"{view.media_base_url}cdn/midi/{view.clip.clip_id}.mid",
        }
    )


@export_routes.get("/act/timing/<clip_id>")
@export_routes.get("/timing/<clip_id>")
def timing_export(clip_id: str) -> Response:
    """``{"code":"success","message":"","data":{"state":…, "clip_id":…, "aligned_words":[…]}}``."""
    view = exportable_clip(clip_id, "timing")
    progress = export_progress("timing", view)
    data: dict[str, Any] = {"state": "complete" if progress.done else "running", "clip_id": view.clip.clip_id}
    if progress.done:
        data["aligned_words"] = aligned_words(view.clip.prompt, view.clip.duration, view.clip.clip_id)
    return success_response(data)
