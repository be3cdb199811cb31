"""Reading what the upstream answers, one reader per answer shape; the registry says which operation uses which.

- A submit answers a task id (``read_task_id``), or the created object itself (``read_created_id``).
- A task snapshot, from a callback or a batch fetch, carries clips (``clip_rows``) or lyrics (``lyrics_in``).
- A poll answers in one of several shapes: a GET export gives a URL in ``data``, a task id in ``data`` (then fetched
  like a task: ``export_paths.followed_answer``), an enveloped object or a bare one
  (``read_url_export``, ``read_midi_export``, ``read_timing_export``); the Udio query gives songs
  (``read_udio_songs``). Every poll reader returns a ``PollAnswer``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RUNNING_WORDS = frozenset({"running", "pending", "processing", "queued", "in_progress", "not_start", "submitted",
                           "streaming", "waiting"})
DONE_WORDS = frozenset({"complete", "completed", "success", "succeeded", "done", "finished"})
FAILED_WORDS = frozenset({"failed", "failure", "error"})

DONE, RUNNING, FAILED = "done", "running", "failed"


@dataclass(frozen=True)
class PollAnswer:
    """One poll, read: ``state`` is done, running or failed; ``result`` is what the job keeps of the answer."""

    state: str
    detail: str
    result: dict[str, Any]
    clips: list[dict[str, Any]] = field(default_factory=list)  # in the upstream's clip shape, for store_clips


# --- submit answers -------------------------------------------------------------------------------------------


def read_task_id(body: Any) -> str | None:
    """The task id of a submit answer, ``{"code": "success", "data": "<task_id>"}``; None when it carries none."""
    if not isinstance(body, dict) or body.get("code") not in (None, "success"):
        return None
    data = body.get("data")
    return data.strip() if isinstance(data, str) and data.strip() else None


def read_created_id(body: Any) -> str | None:
    """The id of an object the submit created and answered with at once, ``{"id": "<id>", ...}`` (or enveloped)."""
    if not isinstance(body, dict):
        return None
    created_id = body.get("id")
    if created_id is None and isinstance(body.get("data"), dict):
        created_id = body["data"].get("id")  # tolerate an enveloped answer
    return created_id.strip() if isinstance(created_id, str) and created_id.strip() else None


# --- task snapshots -------------------------------------------------------------------------------------------


def clip_rows(task: dict[str, Any]) -> list[dict[str, Any]]:
    """The clips a task snapshot carries (each with an id); a COMPLETE without them is not trusted."""
    data = task.get("data")
    if not isinstance(data, list):
        return []
    return [c for c in data if isinstance(c, dict) and c.get("id")]


def clip_metadata(clip: dict[str, Any]) -> dict[str, Any]:
    """A clip's ``metadata`` object (duration, tags, prompt, …), or {} when it has none."""
    meta = clip.get("metadata")
    return meta if isinstance(meta, dict) else {}


def lyrics_in(task: dict[str, Any]) -> dict[str, Any] | None:
    """``{"title", "text"}`` of a lyrics task snapshot, or None when its data is not the lyrics object."""
    data = task.get("data")
    return {"title": data.get("title"), "text": data.get("text")} if isinstance(data, dict) else None


def has_lyrics_text(task: dict[str, Any]) -> bool:
    lyrics = lyrics_in(task)
    return lyrics is not None and bool(lyrics["text"])


# --- poll answers ---------------------------------------------------------------------------------------------


def _urls(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.startswith(("http://", "https://")) else []
    if isinstance(value, dict):
        return [u for v in value.values() for u in _urls(v)]
    if isinstance(value, list):
        return [u for v in value for u in _urls(v)]
    return []


def _data_or_self(answer: dict[str, Any]) -> dict[str, Any]:
    data = answer.get("data")
    return data if isinstance(data, dict) else answer


def _state_word(answer: dict[str, Any]) -> str | None:
    for holder in (answer, _data_or_self(answer)):
        for key in ("state", "status"):
            value = holder.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip().lower()
    return None


def _read_export(answer: dict[str, Any], output_state: tuple[str, str] | None) -> PollAnswer:
    """A state word settles it first; otherwise ``output_state``, or by default whether the answer holds a URL."""
    word = _state_word(answer)
    if word in FAILED_WORDS:
        message = answer.get("message") or _data_or_self(answer).get("message")
        state, detail = FAILED, f"export {word}: {message or 'no reason given'}"
    elif word in RUNNING_WORDS:
        state, detail = RUNNING, str(word)
    elif output_state is not None:
        state, detail = output_state
    elif _urls(answer):
        state, detail = DONE, "url"
    else:
        state, detail = RUNNING, "no url yet (an id to poll)"
    return PollAnswer(state, detail, {"export": answer})


def read_url_export(answer: dict[str, Any], clip_id: str) -> PollAnswer:
    """An export that ends in a file: done once the answer holds a URL."""
    return _read_export(answer, None)


def read_midi_export(answer: dict[str, Any], clip_id: str) -> PollAnswer:
    """The MIDI export: done on a done word, once the answer lists its instruments, or on a bare URL in ``data``."""
    word = _state_word(answer)
    done = (word in DONE_WORDS or isinstance(_data_or_self(answer).get("instruments"), list)
            or (word is None and isinstance(answer.get("data"), str) and bool(_urls(answer.get("data")))))
    return _read_export(answer, (DONE, "instruments") if done else (RUNNING, "no instruments yet"))


def read_timing_export(answer: dict[str, Any], clip_id: str) -> PollAnswer:
    """The lyric timing export: done once the answer holds its aligned words (a done word alone is not enough)."""
    words = isinstance(_data_or_self(answer).get("aligned_words"), list)
    return _read_export(answer, (DONE, "aligned words") if words else (RUNNING, "no words yet"))


def read_udio_songs(answer: dict[str, Any], generation_id: str, *, model_name: str) -> PollAnswer:
    """A Udio query answer: done when every song of this generation is finished, its songs as clips."""
    songs = answer.get("songs")
    if not isinstance(songs, list):
        data = answer.get("data")
        songs = data.get("songs") if isinstance(data, dict) else data if isinstance(data, list) else []
    songs = [s for s in songs or [] if isinstance(s, dict)]
    mine = [s for s in songs if generation_id in (s.get("generation_id"), s.get("id"), s.get("task_id"))] or songs
    result = {"songs": answer.get("songs")}
    if not mine:
        return PollAnswer(RUNNING, "0 songs", result)
    if any(s.get("error_type") or s.get("error_detail") or s.get("status") in FAILED_WORDS for s in mine):
        return PollAnswer(FAILED, "0 songs", result)
    if not all(s.get("finished") is True for s in mine):
        return PollAnswer(RUNNING, "0 songs", result)
    clips = [
        {"id": s.get("id"), "title": s.get("title"), "status": "complete", "audio_url": s.get("song_path"),
         "image_url": s.get("image_path"), "video_url": s.get("video_path"), "model_name": model_name,
         "metadata": {"duration": s.get("duration"), "tags": s.get("tags"), "prompt": s.get("lyrics")}}
        for s in mine
    ]
    return PollAnswer(DONE, f"{len(clips)} songs", result, clips)
