"""Reading the upstream's answers: the id a submit returned, and the task inside a fetch or callback."""

from __future__ import annotations

from typing import Any


def parse_task(body: Any) -> dict[str, Any] | None:
    """The task in ``body``: a bare task (it has ``task_id``) or the ``{code, message, data: task}`` envelope.

    None when ``body`` is neither, or is an error envelope. Used for fetch answers and by the
    callback receiver, which sees both shapes.
    """
    if not isinstance(body, dict):
        return None
    if _has_task_id(body):
        return body
    if body.get("code") == "error":
        return None
    data = body.get("data")
    if isinstance(data, dict) and _has_task_id(data):
        return data
    return None


def submitted_id(operation: str, body: Any) -> str | None:
    """The id a submit answered with, or None when the answer carries none.

    Task submits answer ``{"code": "success", "data": "<task_id>"}``; persona creation answers
    synchronously with the persona itself, ``{"id": "<persona_id>", ...}``.
    """
    if not isinstance(body, dict):
        return None
    if operation == "persona":
        persona_id = body.get("id")
        if persona_id is None and isinstance(body.get("data"), dict):
            persona_id = body["data"].get("id")  # tolerate an enveloped persona
        return persona_id.strip() if isinstance(persona_id, str) and persona_id.strip() else None
    if body.get("code") not in (None, "success"):
        return None
    data = body.get("data")
    if isinstance(data, str) and data.strip():
        return data.strip()
    return None


def _has_task_id(value: dict[str, Any]) -> bool:
    task_id = value.get("task_id")
    return isinstance(task_id, str) and bool(task_id.strip())
