"""Reading the upstream's answers: the id a submit returned, and the task inside a fetch or callback."""

from __future__ import annotations

from typing import Any

from shared.cometapi.operations import operation_named


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

    Task submits answer ``{"code": "success", "data": "<task_id>"}``; an operation that answers synchronously
    (persona creation) answers with the created object itself, ``{"id": "<id>", ...}``. The registry says which.
    """
    return operation_named(operation).read_submit_answer(body)


def _has_task_id(value: dict[str, Any]) -> bool:
    task_id = value.get("task_id")
    return isinstance(task_id, str) and bool(task_id.strip())
