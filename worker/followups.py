"""What happens after a job turns terminal, in two tasks so the latency-critical part never waits behind files:

1. ``hookline.job_finished`` (queue ``hookline``): advance the job's pipeline (the next step's submit reads no
   files: bench/p4_pipeline_latency.py), send 2, then, under a cap, admit the next job. A job in no pipeline and
   under no cap is owed 2 alone (``shared.jobs.finishing.finished_messages``).
2. ``hookline.download_artifacts`` (queue ``hookline.files``): keep the job's files, then the news (which lists the
   files), then clear the job's follow-up deadline.

Each follow-up is idempotent (a pure function of DB rows or keyed by a unique row), so a redelivered or duplicated
message is harmless. The first message comes from the outbox row written with the job's last transition
(``shared.jobs.finishing``). The deadline is cleared only at the end of 2, when every follow-up of both ran to the
end; a lost or failed 2 (or a failed advance) leaves it, and the reconciler sends 1 again once it falls due.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from shared.config import Settings
from shared.jobs.finishing import follow_ups_done
from shared.tasks import DOWNLOAD_ARTIFACTS, send

log = logging.getLogger("hookline.followups")

FollowUp = Callable[[Settings, str], None]


def advance_steps() -> list[FollowUp]:
    """The follow-ups of ``hookline.job_finished``: the DAG."""
    from shared.pipelines import advance_for_job

    return [advance_for_job]


def file_steps() -> list[FollowUp]:
    """The follow-ups of ``hookline.download_artifacts``, in order: the files, then the news (which lists them)."""
    from shared.outgoing import emit_job_event
    from worker.downloading import download_artifacts

    return [download_artifacts, emit_job_event]


def follow_ups() -> list[FollowUp]:
    """Every follow-up, in the order they run."""
    return [*advance_steps(), *file_steps()]


def _run(settings: Settings, job_id: str, steps: list[FollowUp]) -> list[str]:
    """Run each step; one failing does not stop the others. Returns the names that failed."""
    failed = []
    for step in steps:
        try:
            step(settings, job_id)
        except Exception:  # noqa: BLE001 - logged; the job's follow-up deadline stays, and the reconciler reruns
            log.exception("follow-up %s for job %s failed", step.__name__, job_id)
            failed.append(step.__name__)
    return failed


def advance_and_hand_off(settings: Settings, job_id: str) -> list[str]:
    """``hookline.job_finished``: advance the pipeline, then send the downloads as their own task (``settle``: whether
    that task may clear the deadline, i.e. the advance did not fail). Returns the names that failed; a send the
    broker refuses is one of them (the deadline stays, the reconciler runs this again)."""
    failed = _run(settings, job_id, advance_steps())
    try:
        send(settings, DOWNLOAD_ARTIFACTS, job_id, not failed)
    except Exception:  # noqa: BLE001 - logged; the deadline stays
        log.exception("could not send the downloads of job %s; the reconciler will run its follow-ups again", job_id)
        failed.append("send_downloads")
    return failed


def keep_files(settings: Settings, job_id: str, settle: bool = True) -> list[str]:
    """``hookline.download_artifacts``: the files and the news; clears the deadline when all ran and ``settle``."""
    failed = _run(settings, job_id, file_steps())
    if not failed and settle:
        follow_ups_done(settings, job_id)
    return failed


def run_follow_ups(settings: Settings, job_id: str) -> list[str]:
    """Every follow-up in this thread, both halves (tests, and anything that must not wait for a queue)."""
    failed = _run(settings, job_id, advance_steps())
    return failed + keep_files(settings, job_id, settle=not failed)
