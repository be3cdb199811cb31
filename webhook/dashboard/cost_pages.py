"""Costs: spend per day against the daily budget, and today's spend per API key against each key's budget.

Spend is the attempts ledger (Attempt.cost_usd), the same rows the budget cap checks before a submit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from shared.models import ApiKey, Attempt, CostDay, utcnow
from webhook.context import db_session, settings
from webhook.dashboard.auth import Viewer, current_viewer
from webhook.dashboard.blueprint import dashboard

MAX_DAYS = 90


@dataclass(frozen=True)
class SpendRow:
    label: str
    spent: float
    calls: int
    budget: float | None

    @property
    def share(self) -> float | None:
        """Fraction of the budget used (may pass 1.0), or None without a budget."""
        return self.spent / self.budget if self.budget else None


def _days_arg() -> int:
    try:
        return min(MAX_DAYS, max(1, int(request.args.get("days", "14"))))
    except ValueError:
        return 14


def spend_per_day(session: Session, viewer: Viewer, days: int, budget: float | None) -> list[SpendRow]:
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=days - 1)
    day = func.date(Attempt.started_at)
    stmt = viewer.scope(
        select(day, func.coalesce(func.sum(Attempt.cost_usd), 0.0), func.count()).where(Attempt.started_at >= start),
        Attempt.api_key_id,
    ).group_by(day)
    found = {str(d): (float(usd), int(calls)) for d, usd, calls in session.execute(stmt)}
    for d, usd, calls in session.execute(_pruned(viewer, start, CostDay.day)):  # attempts `hookline prune` folded
        old_usd, old_calls = found.get(str(d), (0.0, 0))
        found[str(d)] = (old_usd + float(usd), old_calls + int(calls))
    rows = []
    for offset in range(days):
        label = (today.date() - timedelta(days=offset)).isoformat()
        usd, calls = found.get(label, (0.0, 0))
        rows.append(SpendRow(label, usd, calls, budget))
    return rows


def spend_per_key_today(session: Session, viewer: Viewer) -> list[SpendRow]:
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    spent = {key_id: (float(usd), int(calls)) for key_id, usd, calls in session.execute(
        viewer.scope(select(Attempt.api_key_id, func.coalesce(func.sum(Attempt.cost_usd), 0.0), func.count())
                     .where(Attempt.started_at >= today), Attempt.api_key_id).group_by(Attempt.api_key_id))}
    keys = session.scalars(viewer.scope(select(ApiKey), ApiKey.id).order_by(ApiKey.name)).all()
    rows = [SpendRow(f"{k.name}" + (" (disabled)" if k.disabled else ""), *spent.get(k.id, (0.0, 0)),
                     k.budget_usd_per_day) for k in keys]
    if viewer.is_operator and None in spent:
        rows.append(SpendRow("(no key: CLI, Python API)", *spent[None], None))
    return rows


def spend_per_operation(session: Session, viewer: Viewer, days: int) -> list[SpendRow]:
    start = utcnow().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    stmt = viewer.scope(select(Attempt.operation, func.coalesce(func.sum(Attempt.cost_usd), 0.0), func.count())
                        .where(Attempt.started_at >= start), Attempt.api_key_id).group_by(Attempt.operation)
    totals: dict[str, tuple[float, int]] = {}
    for op, usd, calls in [*session.execute(stmt), *session.execute(_pruned(viewer, start, CostDay.operation))]:
        old_usd, old_calls = totals.get(op, (0.0, 0))
        totals[op] = (old_usd + float(usd), old_calls + int(calls))
    return sorted((SpendRow(op, usd, calls, None) for op, (usd, calls) in totals.items()), key=lambda r: -r.spent)


def _pruned(viewer: Viewer, start: datetime, by: Any) -> Select[Any]:
    """The ledger's daily totals of pruned attempts since ``start``, grouped ``by`` day or operation (the viewer's
    own key only, unless an operator)."""
    return viewer.scope(select(by, func.sum(CostDay.usd), func.sum(CostDay.calls))
                        .where(CostDay.day >= start.date().isoformat()), CostDay.api_key_id).group_by(by)


@dashboard.get("/costs")
def costs() -> ResponseReturnValue:
    viewer = current_viewer()
    days = _days_arg()
    with db_session() as session:
        if viewer.is_operator:
            budget = settings().budget_usd_per_day
        else:
            key = session.get(ApiKey, viewer.api_key_id)
            budget = key.budget_usd_per_day if key is not None else None
        per_day = spend_per_day(session, viewer, days, budget)
        per_key = spend_per_key_today(session, viewer)
        per_operation = spend_per_operation(session, viewer, days)
    return render_template("dashboard/costs.html", per_day=per_day, per_key=per_key, per_operation=per_operation,
                           days=days, budget=budget, today=date.today().isoformat(),
                           window_total=sum(r.spent for r in per_day))
