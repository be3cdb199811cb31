"""What every upstream route needs: the JSON body, and creating a paid task the way the upstream answers."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from .api_errors import SandboxApiError, success_response
from .runtime import SandboxRuntime
from .task_records import TaskRecord


def request_json_object() -> dict[str, Any]:
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise SandboxApiError(400, "request body must be a JSON object")
    return body


def hold_if_ambiguous(runtime: SandboxRuntime, task_id: str) -> None:
    """Under the ambiguous fault (paid submits only), keep the client waiting past its read timeout."""
    if runtime.faults.roll("ambiguous_rate"):
        runtime.store.mark_ambiguous(task_id)
        runtime.pause(runtime.faults.value("ambiguous_sleep"))


def accept_submission(runtime: SandboxRuntime, task: TaskRecord) -> Response:
    """Create the task and answer ``{"code":"success","message":"","data":"<task_id>"}``."""
    runtime.accept(task)
    hold_if_ambiguous(runtime, task.task_id)
    return success_response(task.task_id)
