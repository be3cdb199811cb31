"""Which path family the GET exports are sent to, and following an export that answers with a task id.

``COMETAPI_EXPORT_PATHS``: ``seed`` (the API docs' summary, ``/suno/wav/{clip_id}``), ``act`` (many deployed
gateways, ``/suno/act/wav/{clip_id}``) or ``auto`` (the default): the seed path first and, on a 404, the act path.
A 404 is free (an export GET is never charged), and the family that answered is remembered for the rest of the
process, per base URL, so the fallback costs one extra request per process at most.

An export may answer a URL, an object, a bare object, or a task id in ``data``; a task id is then fetched like any
task (``/suno/fetch/{task_id}``) on every later poll, within the job's usual export deadline.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from shared.cometapi.answers import DONE_WORDS, FAILED_WORDS, RUNNING_WORDS
from shared.cometapi.endpoints import ACT_PATHS, AUTO_PATHS, EXPORT_PATH_FAMILIES, SEED_PATHS, Endpoint
from shared.errors import UpstreamError


class Requester(Protocol):
    """What this module needs of ``CometClient`` (named here so the client may import this module)."""

    base_url: str

    def request(self, endpoint_name: str, *, path_params: Any = None, json: Any = None, query: Any = None,
                family: str | None = None) -> Any: ...

EXPORT_PATH_MODES: tuple[str, ...] = (SEED_PATHS, ACT_PATHS, AUTO_PATHS)
TASK_ID_KEY = "export_task_id"  # where a followed export's answer keeps the task id it was fetched with

_lock = threading.Lock()
_remembered: dict[str, str] = {}  # base URL -> the family that answered there (auto mode), for this process


def remembered_family(base_url: str) -> str | None:
    with _lock:
        return _remembered.get(base_url)


def forget_families() -> None:
    """Forget what ``auto`` learnt (tests that point one process at several upstreams)."""
    with _lock:
        _remembered.clear()


def _remember(base_url: str, family: str) -> None:
    with _lock:
        _remembered[base_url] = family


def request_export(client: Requester, endpoint: Endpoint, clip_id: str, mode: str) -> Any:
    """One export GET in the family ``mode`` names; ``auto``: the remembered family, else seed then act on 404."""
    params = {"clip_id": clip_id}
    if mode != AUTO_PATHS:
        return client.request(endpoint.name, path_params=params, family=mode)
    known = remembered_family(client.base_url)
    if known is not None:
        return client.request(endpoint.name, path_params=params, family=known)
    first_404: UpstreamError | None = None
    for family in EXPORT_PATH_FAMILIES:
        try:
            body = client.request(endpoint.name, path_params=params, family=family)
        except UpstreamError as exc:
            if exc.status == 404:
                first_404 = first_404 or exc
                continue
            if exc.status is not None:  # the path exists here: it answered something other than "not found"
                _remember(client.base_url, family)
            raise
        _remember(client.base_url, family)
        return body
    assert first_404 is not None
    raise first_404  # neither family knows this clip: the seed path's own answer


def export_task_id(answer: Any) -> str | None:
    """The task id an export answered in ``data`` (not a URL, not a state word), or kept from following it."""
    if not isinstance(answer, dict):
        return None
    kept = answer.get(TASK_ID_KEY)
    if isinstance(kept, str) and kept.strip():
        return kept.strip()
    data = answer.get("data")
    if not isinstance(data, str) or answer.get("code") not in (None, "success"):
        return None
    text = data.strip()
    words = RUNNING_WORDS | DONE_WORDS | FAILED_WORDS
    if not text or text.startswith(("http://", "https://")) or text.lower() in words:
        return None
    return text


def followed_answer(task: dict[str, Any], task_id: str) -> dict[str, Any]:
    """A fetched export task as an export answer: its status as the state word, its data as the result."""
    status = task.get("status")
    answer: dict[str, Any] = {TASK_ID_KEY: task_id, "state": str(status or "running").lower(), "data": task.get("data")}
    if task.get("fail_reason"):
        answer["message"] = task["fail_reason"]
    return answer
