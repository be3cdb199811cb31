"""Talking to a running stack over HTTP, the way a user's backend would."""

from __future__ import annotations

from typing import Any

import requests

from shared.cli.stack import Stack, wait_until

TERMINAL = {"succeeded", "failed", "canceled"}


def create_job(stack: Stack, operation: str, params: dict[str, Any]) -> str:
    resp = requests.post(f"{stack.receiver_url}/v1/jobs", json={"operation": operation, "params": params}, timeout=10)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["id"])


def get_job(stack: Stack, job_id: str) -> dict[str, Any]:
    resp = requests.get(f"{stack.receiver_url}/v1/jobs/{job_id}", timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def artifact_bytes(base_url: str, artifact: dict[str, Any], headers: dict[str, str] | None = None) -> bytes:
    """A stored artifact's file, fetched from a receiver at its ``url`` (checked against its size and sha256)."""
    import hashlib

    resp = requests.get(base_url + artifact["url"], headers=headers or {}, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.headers["ETag"] == f'"{artifact["sha256"]}"'
    data = resp.content
    assert (len(data), hashlib.sha256(data).hexdigest()) == (artifact["size"], artifact["sha256"]), artifact
    return data


def wait_job(stack: Stack, job_id: str, until: set[str] | None = None, timeout: float = 60.0) -> dict[str, Any]:
    """The job once its status is in ``until`` (default: a terminal one); on timeout, fail showing the job."""
    wanted = until or TERMINAL

    def reached() -> dict[str, Any] | None:
        job = get_job(stack, job_id)
        return job if job["status"] in wanted else None

    try:
        return wait_until(reached, timeout, 0.1, f"job {job_id} in {sorted(wanted)}")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}: {get_job(stack, job_id)}") from None


def sandbox_requests(stack: Stack) -> list[dict[str, Any]]:
    resp = requests.get(f"{stack.sandbox_url}/_sandbox/requests", timeout=10)
    resp.raise_for_status()
    return list(resp.json())


def submits(stack: Stack, path: str = "/suno/submit/music") -> list[dict[str, Any]]:
    return [r for r in sandbox_requests(stack) if r["method"] == "POST" and r["path"] == path]


def fetches_of(stack: Stack, task_id: str) -> list[dict[str, Any]]:
    """Every upstream fetch that asked about this task, single or batched."""
    found = []
    for r in sandbox_requests(stack):
        if r["path"] == f"/suno/fetch/{task_id}":
            found.append(r)
        elif r["path"] == "/suno/fetch" and task_id in ((r.get("json") or {}).get("ids") or []):
            found.append(r)
    return found
