"""The files of a clip: the GET exports that announce them, and the sandbox's stand-in for Suno's CDN.

- Exports (``export_routes``) of a complete clip: wav, midi, mp4 (video) and timing (aligned lyrics), in the
  sandbox's DIALECT ``<paths>:<answer>``, because deployments differ in both:
  - paths ``seed`` (/suno/wav|midi|mv|timing/<clip_id>, the API docs' summary) or ``act``
    (/suno/act/<kind>/<clip_id>, many gateways): only that family is served, the other is a 404;
  - answer ``object`` (``{"code":"success","data":{state, <url>|instruments|aligned_words, …}}``), ``bare`` (the
    same object without the envelope), ``url`` (the file's URL in ``data``, at once; timing, which has no file,
    answers bare) or ``task`` (a task id in ``data``, read with /suno/fetch/<id>; see ``export_task``).
  Each export first answers "running", then, STEP_SECONDS after the first request, "complete"
  (``runtime.ExportBoard``). An unknown clip is a 404; a clip whose task is not COMPLETE is a 400.
- The CDN (``cdn_routes``): real MP3s and PNGs for the URLs in clips, and the exported WAV, MIDI and MP4 files
  (served once the clip's task is COMPLETE). The bytes are written by ``media_files``.
"""

from __future__ import annotations

import io
import random
import re
import time
from typing import Any

from flask import Blueprint, Response, jsonify, request, send_file

from shared.cometapi.endpoints import ENDPOINTS, EXPORT_PATH_FAMILIES

from .audio_recipe import Recipe, fresh_recipe, recipe_notes
from .media_files import (
    COVER_PIXELS,
    LARGE_COVER_PIXELS,
    MIDI_PROGRAM,
    render_cover_png,
    render_midi,
    render_mp4,
    render_recipe_mp3,
    render_recipe_wav,
)
from .runtime import ExportProgress, current_runtime
from .task_records import COMPLETE, MUSIC
from .task_store import MediaClip
from .validation import SandboxApiError, field_error, serve_endpoint, success_response

export_routes = Blueprint("sandbox_exports", __name__)
cdn_routes = Blueprint("sandbox_media", __name__)

# The instrument the JSON lists is the one the .mid file plays, so the two exports agree.
MIDI_INSTRUMENT = {"name": "Lead Synth", "program": MIDI_PROGRAM, "is_drum": False}
CACHE_SECONDS = 3600

# --- lyrics timing: the words of a clip's lyrics spread evenly over its duration -------------------------------

# Section markers like [Verse] are not sung, so they are left out; each word keeps its punctuation.
SECTION_MARKER = re.compile(r"\[[^\]]*\]")
SUNG_SHARE = 0.85  # of each word's slot; the rest is the gap before the next word


def sung_words(lyrics: str) -> list[str]:
    return SECTION_MARKER.sub(" ", lyrics).split()


def aligned_words(lyrics: str, seconds: float, seed: str) -> list[dict[str, Any]]:
    words = sung_words(lyrics)
    if not words or seconds <= 0:
        return []
    rng = random.Random(f"timing:{seed}")
    slot = seconds / len(words)
    return [
        {
            "word": word,
            "success": True,
            "start_s": round(index * slot, 3),
            "end_s": round(index * slot + slot * SUNG_SHARE, 3),
            "p_align": round(rng.uniform(0.8, 0.99), 3),
        }
        for index, word in enumerate(words)
    ]


# --- exports ---------------------------------------------------------------------------------------------------

EXPORT_ANSWERS: tuple[str, ...] = ("object", "bare", "url", "task")
DEFAULT_DIALECT = "seed:object"


def checked_dialect(text: Any) -> str:
    """``<paths>:<answer>``, e.g. ``act:task``; ValueError naming what is wrong."""
    paths, _, answer = str(text).strip().lower().partition(":")
    if paths not in EXPORT_PATH_FAMILIES or answer not in EXPORT_ANSWERS:
        raise ValueError(f"DIALECT: expected <{'|'.join(EXPORT_PATH_FAMILIES)}>:<{'|'.join(EXPORT_ANSWERS)}>, "
                         f"got {text!r}")
    return f"{paths}:{answer}"


def dialect() -> tuple[str, str]:
    paths, _, answer = current_runtime().config["DIALECT"].partition(":")
    return paths, answer


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


def midi_notes(view: MediaClip) -> list[dict[str, Any]]:
    return [
        {"pitch": note.pitch, "start": note.start_s, "end": note.end_s, "velocity": note.velocity}
        for note in recipe_notes(view.clip.recipe)
    ]


def file_url(kind: str, view: MediaClip) -> str | None:
    """Where the CDN serves the export's file (timing has none)."""
    clip_id = view.clip.clip_id
    paths = {"wav": f"cdn/wav/{clip_id}.wav", "mp4": f"cdn/video/{clip_id}.mp4", "midi": f"cdn/midi/{clip_id}.mid"}
    return f"{view.media_base_url}{paths[kind]}" if kind in paths else None


def export_object(kind: str, view: MediaClip, progress: ExportProgress) -> dict[str, Any]:
    """The export's result: wav ``{id, clip_id, state, wav_url}``, mp4 ``video_url``, midi ``instruments`` and
    ``midi_url``, timing ``aligned_words`` and ``waveform_data``; the results only once it is complete."""
    data: dict[str, Any] = {"id": progress.export_id, "clip_id": view.clip.clip_id,
                            "state": "complete" if progress.done else "running"}
    done = progress.done
    if kind in ("wav", "mp4"):
        data["wav_url" if kind == "wav" else "video_url"] = file_url(kind, view) if done else None
    elif kind == "midi" and done:
        data["instruments"] = [{**MIDI_INSTRUMENT, "notes": midi_notes(view)}]
        data["midi_url"] = file_url(kind, view)
    elif kind == "timing" and done:
        data["aligned_words"] = aligned_words(view.clip.prompt, view.clip.duration, view.clip.clip_id)
        data["waveform_data"] = [round(abs((i % 16) - 8) / 8, 3) for i in range(64)]
    return data


def export_answer(kind: str, clip_id: str) -> Response:
    """One export GET, in the sandbox's dialect: only its path family is served, in its answer shape."""
    paths, answer = dialect()
    rule = request.url_rule.rule if request.url_rule is not None else ""
    if ENDPOINTS[kind].family_of_rule(rule) != paths:
        raise SandboxApiError(404, f"not found: {request.method} {request.path} (this upstream serves {paths} paths)")
    view = exportable_clip(clip_id, kind)
    progress = export_progress(kind, view)
    if answer == "task":
        return success_response(progress.export_id)
    if answer == "url" and kind != "timing":
        return success_response(file_url(kind, view))
    data = export_object(kind, view, progress)
    return success_response(data) if answer == "object" else jsonify(data)


def export_task(export_id: str) -> dict[str, Any] | None:
    """An export started in the ``task`` dialect, as /suno/fetch shows a task, or None for another id."""
    runtime = current_runtime()
    started = runtime.exports.started_as(export_id)
    if started is None:
        return None
    kind, clip_id = started
    view = exportable_clip(clip_id, kind)
    progress = export_progress(kind, view)
    return {"task_id": export_id, "action": MUSIC, "status": "COMPLETE" if progress.done else "IN_PROGRESS",
            "fail_reason": "", "progress": "100%" if progress.done else "50%",
            "data": export_object(kind, view, progress) if progress.done else None}


def wav_export(clip_id: str) -> Response:
    return export_answer("wav", clip_id)


def mp4_export(clip_id: str) -> Response:
    return export_answer("mp4", clip_id)


def midi_export(clip_id: str) -> Response:
    return export_answer("midi", clip_id)


def timing_export(clip_id: str) -> Response:
    return export_answer("timing", clip_id)


# --- the CDN ---------------------------------------------------------------------------------------------------

def servable_clip(clip_id: str) -> MediaClip:
    found = current_runtime().store.clip_for_media(clip_id)
    if found is None:
        raise SandboxApiError(404, f"no such file: {clip_id}")
    return found


def send_bytes(content: bytes, mimetype: str, name: str) -> Response:
    response = send_file(
        io.BytesIO(content), mimetype=mimetype, download_name=name, conditional=True, max_age=CACHE_SECONDS
    )
    del response.headers["Date"]  # the HTTP server adds its own; two Date headers confuse some clients
    return response


def clip_recipe(media: MediaClip) -> Recipe:
    return media.clip.recipe or fresh_recipe(media.clip.clip_id, media.clip.duration)


def send_clip_audio(clip_id: str) -> Response:
    media = servable_clip(clip_id)
    content = current_runtime().media.get_or_make(f"audio:{clip_id}", lambda: render_recipe_mp3(clip_recipe(media)))
    return send_bytes(content, "audio/mpeg", f"{clip_id}.mp3")


@cdn_routes.get("/cdn/audio/<clip_id>.mp3")
def clip_audio(clip_id: str) -> Response:
    return send_clip_audio(clip_id)


@cdn_routes.get("/audiopipe/")
def clip_audio_stream() -> Response:
    clip_id = request.args.get("item_id", "")
    if not clip_id:
        raise SandboxApiError(400, "item_id: is required")
    return send_clip_audio(clip_id)


def send_cover(clip_id: str, size: int) -> Response:
    servable_clip(clip_id)
    content = current_runtime().media.get_or_make(f"cover:{size}:{clip_id}", lambda: render_cover_png(clip_id, size))
    return send_bytes(content, "image/png", f"{clip_id}.png")


@cdn_routes.get("/cdn/image/<clip_id>.png")
def clip_cover(clip_id: str) -> Response:
    return send_cover(clip_id, COVER_PIXELS)


@cdn_routes.get("/cdn/image_large/<clip_id>.png")
def clip_cover_large(clip_id: str) -> Response:
    return send_cover(clip_id, LARGE_COVER_PIXELS)


def complete_clip(clip_id: str) -> MediaClip:
    found = servable_clip(clip_id)
    if found.task_status != COMPLETE:
        raise SandboxApiError(404, f"no such file: {clip_id}")
    return found


@cdn_routes.get("/cdn/wav/<clip_id>.wav")
def clip_wav(clip_id: str) -> Response:
    media = complete_clip(clip_id)
    content = current_runtime().media.get_or_make(f"wav:{clip_id}", lambda: render_recipe_wav(clip_recipe(media)))
    return send_bytes(content, "audio/wav", f"{clip_id}.wav")


@cdn_routes.get("/cdn/midi/<clip_id>.mid")
def clip_midi(clip_id: str) -> Response:
    media = complete_clip(clip_id)
    content = current_runtime().media.get_or_make(
        f"midi:{clip_id}", lambda: render_midi(recipe_notes(clip_recipe(media)))
    )
    return send_bytes(content, "audio/midi", f"{clip_id}.mid")


@cdn_routes.get("/cdn/video/<clip_id>.mp4")
def clip_video(clip_id: str) -> Response:
    media = complete_clip(clip_id)
    content = current_runtime().media.get_or_make(f"mp4:{clip_id}", lambda: render_mp4(media.clip.duration))
    return send_bytes(content, "video/mp4", f"{clip_id}.mp4")


# Both path families of each export, from the endpoint table; ``export_answer`` serves only the DIALECT's.
serve_endpoint(export_routes, "wav", wav_export)
serve_endpoint(export_routes, "mp4", mp4_export)
serve_endpoint(export_routes, "midi", midi_export)
serve_endpoint(export_routes, "timing", timing_export)
