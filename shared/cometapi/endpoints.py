"""The one table of CometAPI endpoints; the operation registry (``operations.py``) points at its rows.

Paths live here and nowhere else, so a path the upstream moves is a one-line change.
Where the API docs' summary and CometAPI's own endpoint pages disagree, the table follows the endpoint page
and keeps the other spelling in ``alt_paths`` (documentation only: nothing ever sends to an alt path).

The GET exports are the exception: deployments really differ there. The API docs' summary has
``/suno/wav|midi|mv|timing/{clip_id}`` (the ``seed`` family), many deployed gateways ``/suno/act/{wav,midi,mp4,
timing}/{clip_id}`` (the ``act`` family). An export's row names both in ``families``; the client sends to the one
``COMETAPI_EXPORT_PATHS`` picks (``auto``: the seed path first, the act path after a 404, remembered per process).
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
    # (family, path) pairs where deployments use different paths for this endpoint; ``path`` is the first family's.
    families: tuple[tuple[str, str], ...] = ()

    @property
    def route_rules(self) -> tuple[str, ...]:
        """Every documented path (the main one first) as a Flask rule, ``{clip_id}`` -> ``<clip_id>``: how the
        sandbox serves this endpoint, so a path changed here moves in the client and the simulator together."""
        paths = dict.fromkeys((self.path, *self.alt_paths, *(path for _, path in self.families)))
        return tuple(path.replace("{", "<").replace("}", ">") for path in paths)

    def family_of_rule(self, rule: str) -> str | None:
        """The path family a Flask rule (as ``route_rules`` spells it) belongs to, or None."""
        for family, path in self.families:
            if path.replace("{", "<").replace("}", ">") == rule:
                return family
        return None

    def path_in(self, family: str | None) -> str:
        """The path of ``family`` (``seed`` or ``act``); the main path when the endpoint has no such family."""
        return dict(self.families).get(family, self.path) if family else self.path

    def path_with(self, path_params: Mapping[str, Any] | None = None, *, family: str | None = None) -> str:
        """The path (of ``family``, for an export) with its placeholders filled, each URL-quoted as one segment."""
        path = self.path_in(family)
        params = dict(path_params or {})
        quoted: dict[str, str] = {}
        for name in _placeholders(path):
            value = params.get(name)
            if not isinstance(value, str) or not value.strip():
                raise BadRequest(f"{self.name} needs a non-empty {name}", field=name, operation=self.name)
            quoted[name] = quote(value, safe="")
        return path.format(**quoted)


def _placeholders(path: str) -> list[str]:
    return [part[: part.index("}")] for part in path.split("{")[1:]]


SEED_PATHS, ACT_PATHS, AUTO_PATHS = "seed", "act", "auto"
EXPORT_PATH_FAMILIES: tuple[str, ...] = (SEED_PATHS, ACT_PATHS)  # the order ``auto`` tries them in


def _export_endpoint(name: str, seed_segment: str, note: str = "") -> Endpoint:
    seed_path, act_path = f"/suno/{seed_segment}/{{clip_id}}", f"/suno/act/{name}/{{clip_id}}"
    return Endpoint(name, "GET", seed_path, paid=False, families=((SEED_PATHS, seed_path), (ACT_PATHS, act_path)),
                    note="answers a URL in data, a task id in data (fetched like a task), an object, or a bare "
                    "object" + (f"; {note}" if note else ""))


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
    _export_endpoint("wav", "wav"),
    _export_endpoint("midi", "midi", 'resellers answer {"state":"running"}, later {"state":"complete", '
                     '"instruments":[...]}'),
    _export_endpoint("mp4", "mv"),
    _export_endpoint("timing", "timing", "aligned_words: [{word, success, start_s, end_s, p_align}], enveloped or "
                     "bare; only after COMPLETE"),
    Endpoint(
        "udio_generate", "POST", "/udio/generate-proxy", paid=True,
        note="the API docs' Udio page; {gen_params: {prompt, lyrics, lyrics_type, model_type, config, ...}}",
    ),
    Endpoint(
        "udio_query", "GET", "/udio/query", paid=False,
        note='?ids=a,b -> {"songs": [...]}; no callback documented, so poll',
    ),
    Endpoint(
        "balance", "GET", "/user/quota", paid=False,
        note="CometAPI's balance query, on its own host (COMETAPI_BALANCE_URL, default https://query.cometapi.com); "
        "?key=<API key>, no Bearer header -> {total_quota (USD left), total_used_quota, request_count, keys: [...]}",
    ),
)
ENDPOINTS: dict[str, Endpoint] = {endpoint.name: endpoint for endpoint in _TABLE}
