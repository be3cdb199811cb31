"""POST each state change to the task's notify_hook, off the request path, with retries and injected faults."""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import requests

from .faults import FaultPlan
from .task_store import StepOutcome

log = logging.getLogger(__name__)

CALLBACK_HEADERS = {"Content-Type": "application/json", "User-Agent": "cometapi-sandbox/1.0"}
# A held-back (reordered) callback goes out this long after the one that overtook it.
REORDER_GAP_SECONDS = 0.2
DELIVERY_THREADS = 8


class CallbackSettings(NamedTuple):
    timeout: float
    retries: int
    retry_delay: float


@dataclasses.dataclass
class Delivery:
    task_id: str
    url: str
    body: bytes
    task_status: str
    attempt: int = 1
    fault: str | None = None  # "delayed", "duplicate" or "reordered": why it is not an ordinary send
    cancelled: bool = False


def post_callback(url: str, body: bytes, timeout: float) -> tuple[int | None, str | None]:
    """One POST; (receiver's HTTP status, None) or (None, what went wrong)."""
    try:
        response = requests.post(url, data=body, headers=CALLBACK_HEADERS, timeout=timeout)
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"
    response.close()
    return response.status_code, None


class CallbackDispatcher:
    def __init__(
        self,
        faults: FaultPlan,
        settings: CallbackSettings,
        record: Callable[[str, dict[str, Any]], None],
        stop: threading.Event,
    ) -> None:
        self._faults = faults
        self._settings = settings
        self._record = record
        self._stop = stop
        self._heap: list[tuple[float, int, Delivery]] = []
        self._held: dict[str, Delivery] = {}  # per task: a reordered callback waiting to be overtaken
        self._counter = itertools.count()
        self._wakeup = threading.Condition()
        self._pool = ThreadPoolExecutor(max_workers=DELIVERY_THREADS, thread_name_prefix="sandbox-callback")
        self._thread = threading.Thread(target=self._run, name="sandbox-callback-timer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        with self._wakeup:
            self._wakeup.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def clear(self) -> None:
        with self._wakeup:
            self._heap.clear()
            self._held.clear()

    def announce(self, outcome: StepOutcome) -> None:
        """Queue the callback for one state change, applying the callback faults; never blocks on the network."""
        if not outcome.notify_hook:
            return
        now = time.time()
        body = json.dumps(outcome.task_object).encode()
        status = str(outcome.task_object["status"])
        delivery = Delivery(outcome.task_id, outcome.notify_hook, body, status)
        with self._wakeup:
            overtaken = self._held.pop(outcome.task_id, None)
        if self._faults.roll("drop_callbacks"):
            self._record(outcome.task_id, {"status": status, "fault": "dropped", "time": now})
            if overtaken is not None:
                self._release(overtaken, now + REORDER_GAP_SECONDS)
            return
        due = now
        if self._faults.roll("delay_callbacks"):
            due += self._faults.value("delay_seconds")
            delivery.fault = "delayed"
        # Hold this one back until the task's next callback has gone out (one held per task at a time).
        if overtaken is None and self._faults.roll("reorder_callbacks"):
            delivery.fault = "reordered"
            with self._wakeup:
                self._held[outcome.task_id] = delivery
            # If nothing overtakes it (it was the last change), it still goes out, late.
            self._push(delivery, due + max(self._faults.value("delay_seconds"), REORDER_GAP_SECONDS))
        else:
            self._push(delivery, due)
        if self._faults.roll("duplicate_callbacks"):
            duplicate = dataclasses.replace(delivery, fault="duplicate")
            self._push(duplicate, due + self._faults.uniform(0.05, 0.5))
        if overtaken is not None:
            self._release(overtaken, due + REORDER_GAP_SECONDS)

    def _release(self, held: Delivery, when: float) -> None:
        held.cancelled = True  # its fallback entry in the heap
        self._push(dataclasses.replace(held, cancelled=False), when)

    def _push(self, delivery: Delivery, due: float) -> None:
        with self._wakeup:
            heapq.heappush(self._heap, (due, next(self._counter), delivery))
            self._wakeup.notify()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._wakeup:
                now = time.time()
                ready = []
                while self._heap and self._heap[0][0] <= now:
                    delivery = heapq.heappop(self._heap)[2]
                    if self._held.get(delivery.task_id) is delivery:
                        del self._held[delivery.task_id]  # its fallback time came before anything overtook it
                    ready.append(delivery)
                if not ready:
                    wait = self._heap[0][0] - now if self._heap else 0.5
                    self._wakeup.wait(min(wait, 0.5))
                    continue
            for delivery in ready:
                if not delivery.cancelled:
                    try:
                        self._pool.submit(self._deliver, delivery)
                    except RuntimeError:  # pool already shut down
                        return

    def _deliver(self, delivery: Delivery) -> None:
        receiver_status, error = post_callback(delivery.url, delivery.body, self._settings.timeout)
        self._record(
            delivery.task_id,
            {
                "status": delivery.task_status,
                "attempt": delivery.attempt,
                "fault": delivery.fault,
                "time": time.time(),
                "receiver_status": receiver_status,
                "error": error,
            },
        )
        ok = receiver_status is not None and 200 <= receiver_status < 300
        if not ok and delivery.attempt <= self._settings.retries and not self._stop.is_set():
            retry = dataclasses.replace(delivery, attempt=delivery.attempt + 1)
            self._push(retry, time.time() + self._settings.retry_delay)
        elif not ok:
            log.info(
                "sandbox: callback for %s (%s) gave up: %s",
                delivery.task_id,
                delivery.task_status,
                error or receiver_status,
            )
