"""The API docs' own example client ("Example 2: Generate Custom Song"), reimplemented faithfully as the
baseline for P3, P3b and P4: submit the custom song, then ``GET /suno/fetch/<task_id>`` every 5 s, at most 60 times,
until COMPLETE or FAILED. A fresh ``requests.post``/``requests.get`` per call, as in the seed; no notify_hook.

    python -m bench.seed_client --base-url http://127.0.0.1:8010 [--clients 10]

The only additions are bookkeeping: every call is counted, and the moment the client first saw COMPLETE is kept
(to compare with the task's own finish time). ``print`` becomes an optional log.
"""

from __future__ import annotations

import argparse
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

API_KEY = "sk-your-api-key"
POLL_SECONDS = 5  # the seed's time.sleep(5)
MAX_ATTEMPTS = 60  # the seed's max_attempts
PAYLOAD: dict[str, Any] = {
    "prompt": """[Verse]
Walking through the city streets
Neon lights and concrete beats
Dreams are floating in the air
Freedom calling everywhere

[Chorus]
We're alive tonight
Under starlit skies so bright
Dancing till the morning light
Everything feels right""",
    "tags": "indie pop, dreamy, atmospheric",
    "mv": "chirp-crow",
    "title": "City Dreams",
    "make_instrumental": False,
}


@dataclass
class ClientRun:
    """What one run of the example client did."""

    task_id: str | None = None
    calls: int = 0
    status: str | None = None
    submitted_at: float = 0.0
    seen_complete_at: float | None = None  # time.time() when a fetch first answered COMPLETE
    clips: list[dict[str, Any]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


def generate_custom_song(base_url: str, run: ClientRun,
                         poll_seconds: float = POLL_SECONDS) -> list[dict[str, Any]] | None:
    headers = {
        "Authorization": f"Bearer {API_KEY}",
        "Content-Type": "application/json",
    }
    run.calls += 1
    run.submitted_at = time.time()
    response = requests.post(f"{base_url}/suno/submit/music", json=PAYLOAD, headers=headers)
    if response.status_code == 200:
        task_id = response.json()["data"]
        run.task_id = task_id
        run.log.append(f"Task created: {task_id}")
        return poll_task(base_url, task_id, headers, run, poll_seconds)
    run.log.append(f"Error: {response.text}")
    return None


def poll_task(base_url: str, task_id: str, headers: dict[str, str], run: ClientRun,
              poll_seconds: float = POLL_SECONDS) -> list[dict[str, Any]] | None:
    max_attempts = MAX_ATTEMPTS
    for _attempt in range(max_attempts):
        run.calls += 1
        response = requests.get(f"{base_url}/suno/fetch/{task_id}", headers=headers)
        if response.status_code == 200:
            task = response.json()["data"]
            run.log.append(f"Status: {task['status']} - Progress: {task['progress']}")
            run.status = task["status"]
            if task["status"] == "COMPLETE":
                run.seen_complete_at = time.time()
                for clip in task["data"]:
                    run.log.append(f"Title: {clip['title']}  Audio: {clip['audio_url']}  Image: {clip['image_url']}")
                run.clips = task["data"]
                return task["data"]
            elif task["status"] == "FAILED":
                run.log.append(f"Failed: {task['fail_reason']}")
                return None
        time.sleep(poll_seconds)
    run.log.append("Timeout waiting for completion")
    return None


def run_clients(base_url: str, clients: int, poll_seconds: float = POLL_SECONDS,
                stagger: float = 0.0) -> list[ClientRun]:
    """``clients`` copies of the example client at once, one thread each (a user's backend running several)."""
    runs = [ClientRun() for _ in range(clients)]
    threads = []
    for run in runs:
        thread = threading.Thread(target=generate_custom_song, args=(base_url, run, poll_seconds), daemon=True)
        thread.start()
        threads.append(thread)
        if stagger:
            time.sleep(stagger)
    for thread in threads:
        thread.join()
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--poll-seconds", type=float, default=POLL_SECONDS)
    args = parser.parse_args()
    runs = run_clients(args.base_url, args.clients, args.poll_seconds)
    for run in runs:
        print("\n".join(run.log))
    done = [r for r in runs if r.status == "COMPLETE"]
    print(f"{len(done)}/{len(runs)} complete; {sum(r.calls for r in runs) / len(runs):.2f} upstream calls per song")


if __name__ == "__main__":
    main()
