"""When a worker's event runs an admission step: only when it can let another job in. A busy system then pays one
step per few jobs, not two per job (bench P2: a step after every sent submit and every finished job was 23% of
the worker's CPU, most of them admitting one job or none).

- A submit that left the admission window (sent, or finished at once): a step when the window is at most half
  full, one COUNT on the admission index, so the window refills in batches of about half of it. The last submit
  of a batch to leave always sees room, and the beat sweep admits anyway, so nothing waits for a trigger that
  never comes. Under a cap no larger than the window, a sent submit frees nothing the step counts.
- A finished job: its slot matters only under a cap, the global HOOKLINE_MAX_IN_FLIGHT or its owner's
  ``max_in_flight``; without either, finishing frees nothing admission counts (the window was freed at the submit).
"""

from __future__ import annotations

from sqlalchemy import func, select

from shared.admission.core import NOT_SENT, AdmissionReport, admit_quietly
from shared.config import Settings
from shared.db import open_session
from shared.models import ApiKey, Job


def admit_after_submit(settings: Settings, *, left_window: bool, finished: bool, job_id: str) -> AdmissionReport | None:
    """After a submit task: ``left_window`` (the job is no longer waiting to be sent), ``finished`` (it is terminal,
    so its slot is free too)."""
    if finished and _capped(settings, job_id):
        return admit_quietly(settings)
    cap = settings.max_in_flight
    if left_window and (not cap or cap > settings.admission_window) and _window_half_free(settings):
        return admit_quietly(settings)
    return None


def admit_after_finish(settings: Settings, job_id: str) -> AdmissionReport | None:
    """After a job turned terminal (``hookline.job_finished``): a step when its slot was counted by a cap."""
    return admit_quietly(settings) if _capped(settings, job_id) else None


def _capped(settings: Settings, job_id: str) -> bool:
    if settings.max_in_flight:
        return True
    with open_session(settings) as session:
        owner_cap = session.scalar(select(ApiKey.max_in_flight).join(Job, Job.owner == ApiKey.id)
                                   .where(Job.id == job_id))
    return bool(owner_cap)


def _window_half_free(settings: Settings) -> bool:
    with open_session(settings) as session:
        not_sent = session.scalar(select(func.count()).select_from(Job).where(
            Job.status.in_(NOT_SENT), Job.admitted_at.is_not(None))) or 0
    return not_sent <= settings.admission_window // 2
