"""Health: broker queue depth, workers seen (heartbeats), overdue callbacks, and the last reconcile sweep."""

from __future__ import annotations

from datetime import timedelta

from flask import render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from shared.admission.priority import LOCAL_OWNER
from shared.admission.views import admission_summary
from shared.models import Job, utcnow
from webhook.context import db_session, settings
from webhook.dashboard.auth import current_viewer
from webhook.dashboard.blueprint import dashboard
from webhook.metrics_collector import last_sweep, overdue_count, overdue_filter, queue_depth, workers_seen

OVERDUE_SHOWN = 20


@dashboard.get("/health")
def health() -> ResponseReturnValue:
    viewer = current_viewer()
    now = utcnow()
    config = settings()
    with db_session() as session:
        workers = workers_seen(session, now)
        overdue_total = overdue_count(session, now)
        overdue_jobs = list(session.scalars(
            viewer.scope(select(Job).where(*overdue_filter(now)), Job.api_key_id)
            .order_by(Job.next_check_at).limit(OVERDUE_SHOWN)))
        sweep = last_sweep(session)
        admission = admission_summary(session)
        admission["waiting"] = [w for w in admission["waiting"]
                                if viewer.may_see(None if w["owner"] == LOCAL_OWNER else w["owner"])]
        by_status = dict(session.execute(
            viewer.scope(select(Job.status, func.count()), Job.api_key_id).group_by(Job.status)).all())
    sweep_late = sweep is None or now - sweep.seen_at > timedelta(seconds=3 * config.reconcile_interval + 30)
    return render_template(
        "dashboard/health.html", queue=queue_depth(config), embedded=config.embedded_broker, workers=workers,
        alive=sum(w.alive for w in workers), overdue_total=overdue_total, overdue_jobs=overdue_jobs, sweep=sweep,
        sweep_late=sweep_late, by_status=by_status, now=now, interval=config.reconcile_interval, admission=admission,
    )
