"""What happens after a job turns terminal: one task, ``hookline.job_finished``, runs each follow-up in order.

Each follow-up is idempotent (a pure function of DB rows or keyed by a unique row), so a redelivered or
duplicated message is harmless. The message comes from the outbox row written with the job's last transition
(``shared.jobs.finishing``); when every follow-up ran to the end, the job's follow-up deadline is cleared, else the
reconciler runs them again once it falls due.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from shared.config import Settings
from shared.jobs.finishing import follow_ups_done

log = logging.getLogger("hookline.followups")

FollowUp = Callable[[Settings, str], None]


def follow_ups() -> list[FollowUp]:
    """The follow-ups, in order: the DAG first (the next step's submit is latency-critical and reads no files: the
    pipeline latency benchmark, bench/p4_pipeline_latency.py, measured p99 372 -> 146 ms), then the files, then
    the news (which lists the files)."""
    from shared.outgoing import emit_job_event
    from shared.pipelines import advance_for_job
    from worker.downloading import download_artifacts

    steps: list[FollowUp] = [advance_for_job, download_artifacts, emit_job_event]
    return steps


def run_follow_ups(settings: Settings, job_id: str) -> list[str]:
    """Run every follow-up; one failing does not stop the others. Returns the names that failed."""
    failed = []
    for step in follow_ups():
        try:
            step(settings, job_id)
        except Exception:  # noqa: BLE001 - logged; the job's follow-up deadline stays, and the reconciler reruns
            log.exception("follow-up %s for job %s failed", step.__name__, job_id)
            failed.append(step.__name__)
    if not failed:
        follow_ups_done(settings, job_id)
    return failed
