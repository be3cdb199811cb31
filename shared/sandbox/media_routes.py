"""The sandbox's stand-in for Suno's CDN: real MP3s and PNGs for the URLs in clips, and the exported
WAV, MIDI and MP4 files (served once the clip's task is COMPLETE)."""

from __future__ import annotations

import io

from flask import Blueprint, Response, request, send_file

from .api_errors import SandboxApiError
from .audio_recipe import Recipe, fresh_recipe, recipe_notes
from .cover_png import COVER_PIXELS, LARGE_COVER_PIXELS, render_cover_png
from .melody_mp3 import render_recipe_mp3
from .midi_file import render_midi
from .mp4_file import render_mp4
from .runtime import current_runtime
from .task_records import COMPLETE
from .task_store import MediaClip
from .wav_file import render_recipe_wav

media_routes = Blueprint("sandbox_media", __name__)

CACHE_SECONDS = 3600


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


@media_routes.get("/cdn/audio/<clip_id>.mp3")
def clip_audio(clip_id: str) -> Response:
    return send_clip_audio(clip_id)


@media_routes.get("/audiopipe/")
def clip_audio_stream() -> Response:
    clip_id = request.args.get("item_id", "")
    if not clip_id:
        raise SandboxApiError(400, "item_id: is required")
    return send_clip_audio(clip_id)


def send_cover(clip_id: str, size: int) -> Response:
    servable_clip(clip_id)
    content = current_runtime().media.get_or_make(f"cover:{size}:{clip_id}", lambda: render_cover_png(clip_id, size))
    return send_bytes(content, "image/png", f"{clip_id}.png")


@media_routes.get("/cdn/image/<clip_id>.png")
def clip_cover(clip_id: str) -> Response:
    return send_cover(clip_id, COVER_PIXELS)


@media_routes.get("/cdn/image_large/<clip_id>.png")
def clip_cover_large(clip_id: str) -> Response:
    return send_cover(clip_id, LARGE_COVER_PIXELS)


def complete_clip(clip_id: str) -> MediaClip:
    found = servable_clip(clip_id)
    if found.task_status != COMPLETE:
        raise SandboxApiError(404, f"no such file: {clip_id}")
    return found


@media_routes.get("/cdn/wav/<clip_id>.wav")
def clip_wav(clip_id: str) -> Response:
    media = complete_clip(clip_id)
    content = current_runtime().media.get_or_make(f"wav:{clip_id}", lambda: render_recipe_wav(clip_recipe(media)))
    return send_bytes(content, "audio/wav", f"{clip_id}.wav")


@media_routes.get("/cdn/midi/<clip_id>.mid")
def clip_midi(clip_id: str) -> Response:
    media = complete_clip(clip_id)
    content = current_runtime().media.get_or_make(
        f"midi:{clip_id}", lambda: render_midi(recipe_notes(clip_recipe(media)))
    )
    return send_bytes(content, "audio/midi", f"{clip_id}.mid")


@media_routes.get("/cdn/video/<clip_id>.mp4")
def clip_video(clip_id: str) -> Response:
    media = complete_clip(clip_id)
    content = current_runtime().media.get_or_make(f"mp4:{clip_id}", lambda: render_mp4(media.clip.duration))
    return send_bytes(content, "video/mp4", f"{clip_id}.mp4")
