"""The one table of CometAPI endpoints; the operation registry (``operations.py``) points at its rows.

Paths live here and nowhere else, so a path the upstream moves is a one-line change.
Where the API docs' summary and CometAPI's own endpoint pages disagree, the table follows the endpoint page
and keeps the other spelling in ``alt_paths`` (documentation only: nothing ever sends to an alt path).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from shared.errors import BadRequest


@dataclass(frozen=True)
class Endpoint:
    """One upstream endpoint: where it lives and what a lost answer costs."""

    name: str
    method: str
    path: str  # may hold {clip_id} / {task_id} placeholders
    # paid: the request may charge money or create something upstream, so a request
    # whose answer was lost must be treated as possibly done (AmbiguousSubmit), never resent blindly.
    paid: bool
    takes_notify_hook: bool = False
    alt_paths: tuple[str, ...] = ()
    note: str = ""

    @property
    def route_rules(self) -> tuple[str, ...]:
        """Every documented path (the main one first) as a Flask rule, ``{clip_id}`` -> ``<clip_id>``: how the
        sandbox serves this endpoint, so a path changed here moves in the client and the simulator together."""
        return tuple(path.replace("{", "<").replace("}", ">") for path in (self.path, *self.alt_paths))

    def path_with(self, path_params: Mapping[str, Any] | None = None) -> str:
        """The path with its placeholders filled, each value URL-quoted as one path segment."""
        params = dict(path_params or {})
        quoted: dict[str, str] = {}
        for name in _placeholders(self.path):
            value = params.get(name)
            if not isinstance(value, str) or not value.strip():
                raise BadRequest(f"{self.name} needs a non-empty {name}", field=name, operation=self.name)
            quoted[name] = quote(value, safe="")
        return self.path.format(**quoted)


def _placeholders(path: str) -> list[str]:
    return [part[: part.index("}")] for part in path.split("{")[1:]]


_TABLE: tuple[Endpoint, ...] = (
    Endpoint(
        "lyrics", "POST", "/suno/submit/lyrics", paid=True, takes_notify_hook=True,
        note='{prompt, notify_hook?} -> {"code":"success","data":"<task_id>"}; $0.02',
    ),
    Endpoint(
        "music", "POST", "/suno/submit/music", paid=True, takes_notify_hook=True,
        note="every music mode, including task=gen_stem (stems); the mode follows from the fields",
    ),
    Endpoint(
        "upload", "POST", "/suno/submit/upload", paid=True,
        alt_paths=("/suno/uploads/audio-url",),
        note="{audio_url, title?} per the API docs' summary; other resellers use /suno/uploads/audio-url with {url}",
    ),
    Endpoint(
        "concat", "POST", "/suno/submit/concat", paid=True,
        note="{clip_id, is_infill}; clip_id is the extended clip",
    ),
    Endpoint(
        "separate_full", "POST", "/suno/submit/audio/separation/full", paid=True,
        note="path from the API docs' summary only; CometAPI's own stem page documents stems as a "
        "music task (task=gen_stem on /suno/submit/music)",
    ),
    Endpoint(
        "separate_single", "POST", "/suno/submit/audio/separation/single", paid=True,
        note="path from the API docs' summary only; see separate_full",
    ),
    Endpoint(
        "persona", "POST", "/suno/persona/create", paid=True,
        alt_paths=("/suno/submit/persona",),
        note='CometAPI\'s persona page; answers synchronously with {"id": persona_id, ...}; the API docs name no '
        "price, treated as paid because a resend would create a second persona",
    ),
    Endpoint(
        "fetch_one", "GET", "/suno/fetch/{task_id}", paid=False,
        note="{code, message, data: task}",
    ),
    Endpoint(
        "fetch_many", "POST", "/suno/fetch", paid=False,
        note='{ids: [...], action: "MUSIC"|"LYRICS"} -> {code, message, data: [task, ...]}',
    ),
    Endpoint(
        "wav", "GET", "/suno/act/wav/{clip_id}", paid=False,
        alt_paths=("/suno/wav/{clip_id}",),
        note="may answer with a URL, or with an id to poll",
    ),
    Endpoint(
        "midi", "GET", "/suno/act/midi/{clip_id}", paid=False,
        alt_paths=("/suno/midi/{clip_id}",),
        note='resellers answer {"state":"running"}, later {"state":"complete","instruments":[...]}',
    ),
    Endpoint(
        "mp4", "GET", "/suno/act/mp4/{clip_id}", paid=False,
        alt_paths=("/suno/mv/{clip_id}",),
    ),
    Endpoint(
        "timing", "GET", "/suno/act/timing/{clip_id}", paid=False,
        alt_paths=("/suno/timing/{clip_id}",),
        note="aligned_words: [{word, success, start_s, end_s, p_align}]; only after COMPLETE",
    ),
    Endpoint(
        "udio_generate", "POST", "/udio/generate-proxy", paid=True,
        note="the API docs' Udio page; {gen_params: {prompt, lyrics, lyrics_type, model_type, config, ...}}",
    ),
    Endpoint(
        "udio_query", "GET", "/udio/query", paid=False,
        note='?ids=a,b -> {"songs": [...]}; no callback documented, so poll',
    ),
)
ENDPOINTS: dict[str, Endpoint] = {endpoint.name: endpoint for endpoint in _TABLE}
