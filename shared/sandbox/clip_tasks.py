"""The MUSIC tasks made from audio that already exists: upload, concat and separation.

- Upload: read the audio a URL points at. A sandbox clip's URL (recognised by its CDN path) is resolved
  in-process, so the upload reuses that clip's recipe and sounds the same (and it works even when
  MEDIA_BASE_URL names a host only clients can reach). Any other URL is fetched and its duration decoded with
  mutagen; the uploaded clip then plays a tune of its own of exactly that length.
- Concat: the whole song a clip's chain of extensions (or its infill) adds up to.
  - is_infill false: the clip must be an extension (extend / upload_extend). The song is its parent's audio up
    to continue_at, then the extension's own audio: duration = continue_at + the extension's duration. When
    the parent is itself an extension, the song follows the chain back to its root: root[0:c1] + ext1[0:c2] +
    ext2, each continue_at being a time in the clip it extended (so the length is c1 + c2 + ext2's duration).
  - is_infill true: the clip must be an infill clip of range [start, end) of its parent; the song is the
    parent's audio before start, the infill, then the parent's audio from end: the parent's length again.
- Separation: the stems of a complete clip (``task_records.stem_clips``).
"""

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

from .audio_recipe import Recipe, cut_recipe, recipe_seconds
from .faults import FaultPlan
from .task_building import Submission, assemble_task, new_task_id
from .task_records import MUSIC, ClipRecord, TaskRecord, make_clip, stem_clips
from .validation import field_error

# --- upload: the audio behind a URL ----------------------------------------------------------------------------

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


# --- concat: the whole song ------------------------------------------------------------------------------------

EXTENSION_MODES = ("extend", "upload_extend")
MAX_CHAIN = 50  # extensions of extensions; guards against a cycle


@dataclass(frozen=True)
class ConcatPlan:
    clip: ClipRecord  # the clip named by clip_id
    recipe: Recipe
    duration: float
    prompt: str  # the lyrics of every part, in order, each once


def _joined_prompts(prompts: list[str]) -> str:
    kept: list[str] = []
    for prompt in prompts:
        if prompt.strip() and prompt not in kept:
            kept.append(prompt)
    return "\n\n".join(kept)


def _song_of(clip: ClipRecord, find_clip: Callable[[str], ClipRecord | None]) -> tuple[Recipe, list[str]]:
    """The recipe and lyrics of the whole song ending with `clip`, following extensions back to their root."""
    chain = [clip]
    while chain[-1].mode in EXTENSION_MODES and chain[-1].parent_clip_id and len(chain) <= MAX_CHAIN:
        parent = find_clip(chain[-1].parent_clip_id)
        if parent is None:
            break
        chain.append(parent)
    root = chain.pop()
    recipe, prompts = root.recipe, [root.prompt]
    last_part_starts = 0.0  # where the clip extended next begins in the song so far
    for extension in reversed(chain):
        # continue_at is a time in the extended clip's own audio, which is the song's last part.
        kept = last_part_starts + (extension.continue_at or 0.0)
        recipe = cut_recipe(recipe, 0.0, kept) + extension.recipe
        last_part_starts = kept
        prompts.append(extension.prompt)
    return recipe, prompts


def plan_concat(
    clip_id: str,
    is_infill: bool,
    find_clip: Callable[[str], ClipRecord | None],
    is_complete: Callable[[str], bool],
) -> ConcatPlan:
    clip = find_clip(clip_id)
    if clip is None:
        raise field_error("clip_id", f"unknown clip {clip_id!r}")
    if not is_complete(clip.clip_id):
        raise field_error("clip_id", f"clip {clip_id!r} is not complete yet")
    parent = find_clip(clip.parent_clip_id) if clip.parent_clip_id else None
    if is_infill:
        if clip.mode != "infill" or parent is None or clip.edit_range is None:
            raise field_error("is_infill", f"clip {clip_id!r} is a {clip.mode} clip, not an infill clip")
        start, end = clip.edit_range
        recipe = cut_recipe(parent.recipe, 0.0, start) + clip.recipe + cut_recipe(parent.recipe, end, parent.duration)
        prompts = [parent.prompt, clip.prompt]
    else:
        if clip.mode not in EXTENSION_MODES or parent is None:
            hint = "; concat it with is_infill true" if clip.mode == "infill" else ""
            raise field_error("clip_id", f"clip {clip_id!r} is a {clip.mode} clip, not an extension{hint}")
        recipe, prompts = _song_of(clip, find_clip)
    return ConcatPlan(clip, recipe, round(recipe_seconds(recipe), 2), _joined_prompts(prompts))


# --- the tasks -------------------------------------------------------------------------------------------------

UPLOAD_MODEL_NAME = "chirp-upload"
UPLOAD_MAJOR_VERSION = "upload"
# Separation endpoint -> the stem_task it runs: the single split keeps vocals apart from the rest.
SEPARATION_STEM_TASKS = {"single": "two", "full": "twelve"}


def build_upload_task(audio: UploadedAudio, title: str | None, submission: Submission, faults: FaultPlan) -> TaskRecord:
    task_id = new_task_id()
    clip = make_clip(
        task_id,
        0,
        title=title or audio.title_hint,
        tags="",
        prompt="",
        model_name=UPLOAD_MODEL_NAME,
        major_model_version=UPLOAD_MAJOR_VERSION,
        duration=audio.duration,
        mode="upload",
        kind="upload",
        recipe=audio.recipe,
    )
    return assemble_task(task_id, MUSIC, "upload", submission, faults, clips=[clip])


def build_concat_task(plan: ConcatPlan, submission: Submission, faults: FaultPlan) -> TaskRecord:
    task_id = new_task_id()
    source = plan.clip
    clip = make_clip(
        task_id,
        0,
        title=source.title,
        tags=source.tags,
        prompt=plan.prompt,
        model_name=source.model_name,
        major_model_version=source.major_model_version,
        duration=plan.duration,
        mode="concat",
        kind="concat",
        recipe=plan.recipe,
        parent_clip_id=source.clip_id,
    )
    return assemble_task(task_id, MUSIC, "concat", submission, faults, clips=[clip])


def build_separation_task(source: ClipRecord, separation: str, submission: Submission, faults: FaultPlan) -> TaskRecord:
    task_id = new_task_id()
    mode = f"separation_{separation}"
    clips = stem_clips(source, task_id, mode, stem_task=SEPARATION_STEM_TASKS[separation])
    return assemble_task(task_id, MUSIC, mode, submission, faults, clips=clips)
