"""The jobs list: filters (status, operation, pipeline, day), paging, and per-row cost in one grouped query."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.cometapi import OPERATIONS
from shared.models import Attempt, Job
from shared.states import JobStatus
from webhook.dashboard.auth import Viewer

PAGE_SIZE = 50
STATUSES = [s.value for s in JobStatus]


@dataclass(frozen=True)
class JobFilters:
    status: str = ""
    operation: str = ""
    pipeline: str = ""
    day: str = ""  # YYYY-MM-DD, UTC
    page: int = 1
    errors: tuple[str, ...] = ()

    @classmethod
    def from_args(cls, args: Any) -> JobFilters:
        errors = []
        status = args.get("status", "").strip()
        if status and status not in STATUSES:
            errors.append(f"unknown status {status!r}")
            status = ""
        day = args.get("date", "").strip()
        if day:
            try:
                date.fromisoformat(day)
            except ValueError:
                errors.append(f"date must be YYYY-MM-DD, got {day!r}")
                day = ""
        try:
            page = max(1, int(args.get("page", "1")))
        except ValueError:
            page = 1
        return cls(status=status, operation=args.get("operation", "").strip()[:32],
                   pipeline=args.get("pipeline", "").strip()[:32], day=day, page=page, errors=tuple(errors))

    def query_args(self, **changes: Any) -> dict[str, Any]:
        """The filters as URL arguments (empty ones left out), for paging links."""
        values = {"status": self.status, "operation": self.operation, "pipeline": self.pipeline, "date": self.day,
                  "page": self.page, **changes}
        return {k: v for k, v in values.items() if v not in ("", None) and not (k == "page" and v == 1)}


@dataclass
class JobPage:
    rows: list[Job]
    total: int
    page: int
    pages: int
    cost_by_job: dict[str, float] = field(default_factory=dict)
    operations: list[str] = field(default_factory=list)


def _day_bounds(day: str) -> tuple[datetime, datetime]:
    start = datetime.combine(date.fromisoformat(day), time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def list_jobs(session: Session, viewer: Viewer, filters: JobFilters) -> JobPage:
    stmt = viewer.scope(select(Job), Job.api_key_id)
    if filters.status:
        stmt = stmt.where(Job.status == filters.status)
    if filters.operation:
        stmt = stmt.where(Job.operation == filters.operation)
    if filters.pipeline:
        stmt = stmt.where(Job.pipeline_id == filters.pipeline)
    if filters.day:
        start, end = _day_bounds(filters.day)
        stmt = stmt.where(Job.created_at >= start, Job.created_at < end)
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(filters.page, pages)
    rows = list(session.scalars(
        stmt.order_by(Job.created_at.desc(), Job.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ))
    costs: dict[str, float] = {}
    if rows:
        for job_id, usd in session.execute(
            select(Attempt.job_id, func.sum(Attempt.cost_usd)).where(Attempt.job_id.in_([j.id for j in rows]))
            .group_by(Attempt.job_id)
        ):
            costs[str(job_id)] = float(usd or 0)
    return JobPage(rows=rows, total=total, page=page, pages=pages,
                   cost_by_job=costs, operations=list(OPERATIONS))
