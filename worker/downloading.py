"""The follow-up that keeps a finished job's files: first in ``follow_ups()`` so later steps can use them."""

from __future__ import annotations

import logging
from collections import Counter

from shared.config import Settings
from shared.jobs.artifacts import download_job_artifacts

log = logging.getLogger("hookline.downloading")


def download_artifacts(settings: Settings, job_id: str) -> None:
    """Download every file of a succeeded job (other jobs are skipped); refusals and failures are recorded rows."""
    rows = download_job_artifacts(settings, job_id)
    if not rows:
        return
    counts = Counter(row.status for row in rows)
    log.info("artifacts for job %s: %s", job_id, ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    for row in rows:
        if row.status in ("refused", "failed"):
            log.warning("artifact %s of job %s %s: %s", row.kind, job_id, row.status, row.error)
