"""Read the audio an upload points at: a sandbox clip (recognised by its CDN path) or a fetched audio file.

A sandbox clip's URL is resolved in-process, so the upload reuses that clip's recipe and sounds the same
(and it works even when MEDIA_BASE_URL names a host only clients can reach). Any other URL is fetched and
its duration decoded with mutagen; the uploaded clip then plays a tune of its own of exactly that length."""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import parse_qs, unquote, urlsplit

import mutagen
import requests

from .api_errors import field_error
from .audio_recipe import Recipe
from .task_records import ClipRecord

FETCH_TIMEOUT_SECONDS = 10.0
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_UPLOAD_SECONDS = 480.0  # Suno's own upload limit is about 8 minutes
OWN_MEDIA_PATH = re.compile(r"/cdn/(?:audio|wav)/(?P<clip_id>[^/]+)\.(?:mp3|wav)$")
DEFAULT_UPLOAD_TITLE = "Uploaded audio"


@dataclass(frozen=True)
class UploadedAudio:
    url: str
    duration: float  # seconds, rounded to 2 decimals, as metadata.duration will read
    recipe: Recipe | None  # a sandbox clip's recipe, or None: the upload gets a tune of its own
    title_hint: str


def own_clip_id(url: str) -> str | None:
    """The clip id in a sandbox media URL (/cdn/audio/<id>.mp3, /cdn/wav/<id>.wav, /audiopipe/?item_id=<id>)."""
    parts = urlsplit(url)
    match = OWN_MEDIA_PATH.search(parts.path)
    if match:
        return unquote(match.group("clip_id"))
    if parts.path.endswith("/audiopipe/"):
        return parse_qs(parts.query).get("item_id", [None])[0]
    return None


def title_from_url(url: str) -> str:
    stem = PurePosixPath(unquote(urlsplit(url).path)).stem.replace("_", " ").replace("-", " ").strip()
    return stem or DEFAULT_UPLOAD_TITLE


def fetch_audio(url: str, field: str) -> bytes:
    try:
        with requests.get(url, timeout=FETCH_TIMEOUT_SECONDS, stream=True) as response:
            if response.status_code != 200:
                raise field_error(field, f"could not fetch {url!r}: HTTP {response.status_code}")
            content = response.raw.read(MAX_UPLOAD_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise field_error(field, f"could not fetch {url!r}: {type(exc).__name__}") from None
    if len(content) > MAX_UPLOAD_BYTES:
        raise field_error(field, f"{url!r} is larger than {MAX_UPLOAD_BYTES} bytes")
    return bytes(content)


def decoded_seconds(content: bytes, url: str, field: str) -> float:
    try:
        audio = mutagen.File(io.BytesIO(content))
    except (mutagen.MutagenError, ValueError, EOFError, struct.error):  # a damaged or truncated file
        audio = None
    seconds = getattr(getattr(audio, "info", None), "length", None)
    if not seconds or seconds <= 0:
        raise field_error(field, f"{url!r} is not an audio file the sandbox can read")
    if seconds > MAX_UPLOAD_SECONDS:
        raise field_error(field, f"{url!r} lasts {seconds:.1f} s; uploads may last at most {MAX_UPLOAD_SECONDS:g} s")
    return float(seconds)


def read_upload(url: str, find_clip: Callable[[str], ClipRecord | None], field: str) -> UploadedAudio:
    """The audio behind `url`, or a 400 naming `field` (unreachable, not audio, too long)."""
    clip_id = own_clip_id(url)
    clip = find_clip(clip_id) if clip_id else None
    if clip is not None:
        return UploadedAudio(url, clip.duration, clip.recipe, clip.title)
    seconds = decoded_seconds(fetch_audio(url, field), url, field)
    return UploadedAudio(url, round(seconds, 2), None, title_from_url(url))
