"""How each operation's answer is read: an upstream task, a synchronous answer, a GET export, or a Udio poll.

- task:   the submit answers a task id; callbacks (lyrics, music) or batch fetches (upload, concat, separate) finish it.
- sync:   persona creation answers with the persona id at once: the job succeeds on the spot.
- export: wav/midi/mp4/timing are GETs with no notify_hook: polled with short, growing, capped countdowns.
- udio:   /udio/generate-proxy answers an id; /udio/query is polled the same way (no callback is documented).
"""

from __future__ import annotations

from typing import Any

KINDS: dict[str, str] = {"persona": "sync", "wav": "export", "midi": "export", "mp4": "export", "timing": "export",
                         "udio": "udio"}

POLLED_KINDS = frozenset({"export", "udio"})
POLL_FIRST = 0.5  # seconds before the first poll of an export or Udio job
POLL_CAP = 15.0  # far below Redis's visibility timeout, so a countdown is never redelivered

RUNNING_WORDS = {"running", "pending", "processing", "queued", "in_progress", "not_start", "submitted", "streaming",
                 "waiting"}
DONE_WORDS = {"complete", "completed", "success", "succeeded", "done", "finished"}
FAILED_WORDS = {"failed", "failure", "error"}


def kind_of(operation: str) -> str:
    return KINDS.get(operation, "task")


def poll_delay(polls_so_far: int) -> float:
    """Countdown before the next poll: 0.5, 1, 2, 4, 8, 15, 15, … seconds."""
    return min(POLL_FIRST * (2 ** polls_so_far), POLL_CAP)


def _urls(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.startswith(("http://", "https://")) else []
    if isinstance(value, dict):
        return [u for v in value.values() for u in _urls(v)]
    if isinstance(value, list):
        return [u for v in value for u in _urls(v)]
    return []


def _state_word(answer: dict[str, Any]) -> str | None:
    for holder in (answer, answer.get("data") if isinstance(answer.get("data"), dict) else {}):
        for key in ("state", "status"):
            value = holder.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip().lower()
    return None


def export_state(operation: str, answer: dict[str, Any]) -> tuple[str, str]:
    """("done" | "running" | "failed", detail) for a GET export answer, whichever shape it came in."""
    word = _state_word(answer)
    if word in FAILED_WORDS:
        message = answer.get("message") or (answer.get("data") or {}).get("message") if isinstance(answer, dict) else ""
        return "failed", f"export {word}: {message or 'no reason given'}"
    if word in RUNNING_WORDS:
        return "running", word
    if operation == "timing":
        data = answer.get("data") if isinstance(answer.get("data"), dict) else answer
        return ("done", "aligned words") if isinstance(data.get("aligned_words"), list) else ("running", "no words yet")
    if operation == "midi":
        data = answer.get("data") if isinstance(answer.get("data"), dict) else answer
        if word in DONE_WORDS or isinstance(data.get("instruments"), list):
            return "done", "instruments"
        return "running", "no instruments yet"
    if _urls(answer):
        return "done", "url"
    return "running", "no url yet (an id to poll)"


def udio_state(answer: dict[str, Any], generation_id: str) -> tuple[str, list[dict[str, Any]]]:
    """("done" | "running" | "failed", clips in the upstream's clip shape) from a /udio/query answer."""
    songs = answer.get("songs")
    if not isinstance(songs, list):
        data = answer.get("data")
        songs = data.get("songs") if isinstance(data, dict) else data if isinstance(data, list) else []
    songs = [s for s in songs if isinstance(s, dict)]
    mine = [s for s in songs if generation_id in (s.get("generation_id"), s.get("id"), s.get("task_id"))] or songs
    if not mine:
        return "running", []
    if any(s.get("error_type") or s.get("error_detail") or s.get("status") in FAILED_WORDS for s in mine):
        return "failed", []
    if not all(s.get("finished") is True for s in mine):
        return "running", []
    clips = [
        {"id": s.get("id"), "title": s.get("title"), "status": "complete", "audio_url": s.get("song_path"),
         "image_url": s.get("image_path"), "video_url": s.get("video_path"), "model_name": "udio",
         "metadata": {"duration": s.get("duration"), "tags": s.get("tags"), "prompt": s.get("lyrics")}}
        for s in mine
    ]
    return "done", clips
