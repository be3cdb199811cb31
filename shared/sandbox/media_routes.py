"""The sandbox's stand-in for Suno's CDN: real MP3s and PNGs for the URLs in clips."""

from __future__ import annotations

import io

from flask import Blueprint, Response, request, send_file

from .api_errors import SandboxApiError
from .cover_png import COVER_PIXELS, LARGE_COVER_PIXELS, render_cover_png
from .melody_mp3 import render_melody_mp3
from .runtime import current_runtime
from .task_store import MediaClip

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


def send_clip_audio(clip_id: str) -> Response:
    media = servable_clip(clip_id)
    content = current_runtime().media.get_or_make(
        f"audio:{clip_id}", lambda: render_melody_mp3(media.clip.clip_id, media.clip.duration)
    )
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
