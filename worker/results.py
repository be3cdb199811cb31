"""What one submit or poll task did: the outcome ``worker.tasks`` schedules the next step by, with its delay.

These words never reach the database: an attempt row keeps a ``shared.states.AttemptOutcome``. The Celery tasks
return them as their result (``.value``), which is what a worker's log and a result backend show.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class SubmitOutcome(str, Enum):
    """What ``submit_claimed`` did."""

    SKIPPED = "skipped"  # the job was not queued (a stale or duplicate message): nothing to do
    ACCEPTED = "accepted"  # the upstream took it; a callback or the reconciler finishes it
    AMBIGUOUS = "ambiguous"  # the answer was lost: the job waits for an orphan callback
    POLL = "poll"  # accepted, and finished by polling: the first poll is due in ``retry_in``
    RETRY = "retry"  # refused before anything was accepted: retried with backoff after ``retry_in``
    FAILED = "failed"  # the job failed: rejected, over budget, out of retries, or its first poll said so
    SUCCEEDED = "succeeded"  # finished by the answer itself (a synchronous operation, an export ready at once)


@dataclass(frozen=True)
class SubmitResult:
    outcome: SubmitOutcome
    retry_in: float | None = None
    detail: str = ""
    # Outbox rows committed with the job's last transition (its follow-ups, when it finished): relayed by the task.
    follow_ups: tuple[str, ...] = ()


class PollOutcome(str, Enum):
    """What ``poll_job_once`` did."""

    DONE = "done"  # the job succeeded
    AGAIN = "again"  # still running: the next poll is due in ``retry_in``
    FAILED = "failed"  # the upstream said so, rejected the poll, or the export deadline passed
    STOPPED = "stopped"  # nothing to poll: the job is gone, finished, or its operation is not polled


@dataclass(frozen=True)
class PollResult:
    outcome: PollOutcome
    retry_in: float | None = None
    detail: str = ""
    follow_ups: tuple[str, ...] = ()  # as SubmitResult.follow_ups
