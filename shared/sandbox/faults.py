"""Fault injection: the FAULTS knobs, checked, and the one seeded random source that decides every fault.

Where each knob acts: the callback knobs in callback_delivery; error_rate before every upstream route (app);
ambiguous_rate on the paid submits (runtime.accept_submission, and the persona route); fail_rate and
slow_seconds in each task's planned state changes (task_building)."""

from __future__ import annotations

import random
import threading
from typing import Any

from .validation import SandboxApiError

PROBABILITIES = (
    "drop_callbacks",
    "duplicate_callbacks",
    "delay_callbacks",
    "reorder_callbacks",
    "error_rate",
    "ambiguous_rate",
    "fail_rate",
)
DURATIONS = ("delay_seconds", "ambiguous_sleep", "slow_seconds")

FAULT_DEFAULTS: dict[str, Any] = {
    "drop_callbacks": 0.0,
    "duplicate_callbacks": 0.0,
    "delay_callbacks": 0.0,
    "delay_seconds": 3.0,  # how late a delayed (or a held-back reordered) callback goes out
    "reorder_callbacks": 0.0,
    "error_rate": 0.0,
    "error_codes": [429, 500, 503, 504, 524],
    "ambiguous_rate": 0.0,
    "ambiguous_sleep": 35.0,  # longer than a client's usual 30 s read timeout
    "fail_rate": 0.0,
    "slow_seconds": 0.0,  # extra time every task spends STREAMING before it completes
}

ERROR_MESSAGES: dict[int, str] = {
    429: "rate limit reached for this account, please retry later",
    500: "internal server error",
    503: "no available channel for this model in the current group",
    504: "gateway timeout",
    524: "upstream connection timed out",
}

FAIL_REASONS = (
    "generation failed: the lyrics were flagged by content moderation",
    "generation failed: upstream returned an error while rendering audio",
    "generation failed: timed out waiting for the model",
)


def checked_faults(given: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults overlaid with `given`; unknown keys and out-of-range values are refused (HTTP 400)."""
    given = given or {}
    if not isinstance(given, dict):
        raise SandboxApiError(400, "faults: must be a JSON object")
    unknown = sorted(set(given) - set(FAULT_DEFAULTS))
    if unknown:
        raise SandboxApiError(400, f"faults: unknown knob(s) {', '.join(unknown)}")
    merged = {**FAULT_DEFAULTS, **given}
    for name in PROBABILITIES:
        value = merged[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise SandboxApiError(400, f"{name}: must be a probability in [0, 1], got {value!r}")
        merged[name] = float(value)
    for name in DURATIONS:
        value = merged[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise SandboxApiError(400, f"{name}: must be a number of seconds >= 0, got {value!r}")
        merged[name] = float(value)
    codes = merged["error_codes"]
    if not isinstance(codes, list) or not codes or not all(isinstance(c, int) and 400 <= c <= 599 for c in codes):
        raise SandboxApiError(400, f"error_codes: must be a non-empty list of HTTP error codes, got {codes!r}")
    merged["error_codes"] = list(codes)
    return merged


class FaultPlan:
    """Thread-safe holder of the current FAULTS and of the seeded dice (FAULT_SEED makes runs repeatable)."""

    def __init__(self, faults: dict[str, Any] | None, seed: int | None) -> None:
        self._lock = threading.Lock()
        self._faults = checked_faults(faults)
        self._random = random.Random(seed)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {**self._faults, "error_codes": list(self._faults["error_codes"])}

    def replace(self, faults: dict[str, Any] | None) -> dict[str, Any]:
        checked = checked_faults(faults)
        with self._lock:
            self._faults = checked
        return self.snapshot()

    def value(self, name: str) -> float:
        with self._lock:
            return float(self._faults[name])

    def roll(self, name: str) -> bool:
        """True with the probability the knob `name` holds (never rolls the dice when it is 0)."""
        with self._lock:
            chance = float(self._faults[name])
            return chance > 0 and self._random.random() < chance

    def uniform(self, low: float, high: float) -> float:
        with self._lock:
            return self._random.uniform(low, high)

    def choose(self, options: tuple[str, ...] | list[Any]) -> Any:
        with self._lock:
            return self._random.choice(list(options))

    def injected_error(self) -> SandboxApiError | None:
        """The error to answer an upstream request with instead of serving it, or None (error_rate)."""
        if not self.roll("error_rate"):
            return None
        code = int(self.choose(self.snapshot()["error_codes"]))
        headers = {"Retry-After": "1"} if code == 429 else None
        return SandboxApiError(code, ERROR_MESSAGES.get(code, "upstream error"), headers=headers)
