"""Job priority: the three named classes, integers in between, and ageing.

A priority is an integer; the words name three classes a hundred apart: ``interactive`` (200, the default for a
single job from the CLI, the HTTP API or Python), ``pipeline`` (100, the default for pipeline steps) and ``bulk``
(0, the default for the lines of a bulk file). Any integer from -1000 to 1000 may be given instead.

Ageing bounds starvation: a waiting job's effective priority is its priority plus one class (100) for every
``HOOKLINE_PRIORITY_AGEING`` seconds (default 300) it has waited. So a bulk job that has waited 10 minutes ranks
with a fresh interactive one, and no job waits longer than ``ageing × (classes between it and the highest
priority in use + 1)`` plus the time to drain the jobs that rank level with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.errors import ValidationError
from shared.models.work import LOCAL_OWNER  # noqa: F401 - re-exported: admission names its owners

INTERACTIVE, PIPELINE, BULK = 200, 100, 0
CLASS_STEP = 100  # the distance between two named classes, and what one ageing period adds
NAMES = {"interactive": INTERACTIVE, "pipeline": PIPELINE, "bulk": BULK}
LOWEST, HIGHEST = -1000, 1000


def parse_priority(value: Any, *, field: str = "priority", where: str | None = None) -> int:
    """``interactive`` | ``pipeline`` | ``bulk`` | an integer in [-1000, 1000] (a string of digits too)."""
    if isinstance(value, bool):
        value = None  # True is not a priority
    if isinstance(value, str):
        word = value.strip().lower()
        if word in NAMES:
            return NAMES[word]
        text = word[1:] if word[:1] in "+-" else word
        if text.isascii() and text.isdigit() and len(text) <= 5:
            value = int(word)
    if isinstance(value, int) and not isinstance(value, bool) and LOWEST <= value <= HIGHEST:
        return value
    raise ValidationError(f"must be interactive, pipeline, bulk or a whole number from {LOWEST} to {HIGHEST}",
                          field=field, where=where)


def priority_name(priority: int) -> str:
    """The class word for a named priority, else the number."""
    for word, number in NAMES.items():
        if number == priority:
            return word
    return str(priority)


def effective_priority(priority: int, waiting_since: datetime, now: datetime, ageing_s: float) -> int:
    """``priority`` plus one class per ``ageing_s`` seconds waited (whole periods, so jobs of one class that
    waited about as long rank level, and fair share decides between their owners)."""
    waited = max(0.0, (now - waiting_since).total_seconds())
    return priority + CLASS_STEP * int(waited // ageing_s)
