"""Budgets in the admission step: a job whose daily budget is spent waits as its row; it does not fail.

A budget is ``HOOKLINE_BUDGET_USD_PER_DAY`` (all work) or an API key's ``budget_usd_per_day`` (its owner's work),
the same caps the submit checks (``shared.jobs.ledger.daily_caps``). What a budget has left is its cap minus the
day's charged attempts (pending ones included, as at the submit) minus the price of every job admitted but not yet
claimed (its attempt is not written yet: those are bounded by the admission window). A group whose next job costs
more than what one of its budgets has left is passed over with a reason, so it holds no slot and the other owners
go on; it is admitted when the day rolls over (UTC) or the budget is raised, by the next step (at the latest the
beat sweep's). The plan prices a group by its oldest job; the jobs it picks are then checked at their own prices
(``affordable``: a FIFO prefix), so a bulk file mixing cheap and dear jobs does not overshoot. The submit's own
check (``shared.jobs.ledger.budget_refusal``) stays the last line of defence: nothing is ever paid over budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from shared.admission.planning import Budget, Group
from shared.admission.priority import LOCAL_OWNER
from shared.cometapi import PRICES, price_for
from shared.config import Settings
from shared.errors import HooklineError
from shared.jobs.ledger import day_start, spent_since
from shared.models import ApiKey, Job
from shared.states import JobStatus

DEAREST = max(PRICES.values())  # what one job may cost at most


def _price(operation: str, params: Mapping[str, Any] | None) -> float:
    try:
        return price_for(operation, params or {})
    except HooklineError:  # an unknown operation: the submit fails it with its own message
        return 0.0


def owner_budgets(session: Session, settings: Settings, owners: list[str]
                  ) -> tuple[Budget | None, dict[str, list[Budget]]]:
    """The system budget (None when unset) and the budgets that apply to each of ``owners``."""
    keys = {k.id: k for k in session.scalars(select(ApiKey).where(
        ApiKey.id.in_([o for o in owners if o != LOCAL_OWNER]), ApiKey.budget_usd_per_day.is_not(None)))}
    if settings.budget_usd_per_day is None and not keys:
        return None, {}
    since = day_start()
    reserved = list(session.execute(select(Job.api_key_id, Job.operation, Job.params).where(
        Job.status == JobStatus.QUEUED.value, Job.admitted_at.is_not(None))))
    every = None
    if settings.budget_usd_per_day is not None:
        cap = settings.budget_usd_per_day
        every = Budget("HOOKLINE_BUDGET_USD_PER_DAY", cap,
                       cap - spent_since(session, since) - sum(_price(op, p) for _, op, p in reserved))
    budgets: dict[str, list[Budget]] = {}
    for owner in owners:
        found = [every] if every is not None else []
        key = keys.get(owner)
        if key is not None and key.budget_usd_per_day is not None:
            cap = key.budget_usd_per_day
            found.append(Budget(f"API key {key.name!r} budget", cap, cap - spent_since(
                session, since, api_key_id=key.id) - sum(_price(op, p) for k, op, p in reserved if k == key.id)))
        if found:
            budgets[owner] = found
    return every, budgets


def low_budget_owners(session: Session, settings: Settings) -> set[str] | None:
    """The owners with jobs waiting whose daily budget may not pay their next job (it has less left than the
    dearest operation costs); None: every owner (the system budget is that low). Reads the budgets, not the
    backlog: a step with no free slot uses it to scan only the owners a budget may be holding."""
    waiting = exists().where(Job.owner == ApiKey.id, Job.status == JobStatus.QUEUED.value, Job.admitted_at.is_(None))
    keyed = list(session.scalars(select(ApiKey.id).where(ApiKey.budget_usd_per_day.is_not(None), waiting)))
    every, budgets = owner_budgets(session, settings, keyed)
    if every is not None and every.left < DEAREST:
        return None
    return {owner for owner, found in budgets.items() if any(b.left < DEAREST for b in found)}


def budget_gates(session: Session, settings: Settings, groups: list[Group]
                 ) -> tuple[dict[str, list[Budget]], dict[tuple[str, str, int], float]]:
    """The budgets that apply to each waiting owner, and the price of each group's oldest job. Empty when no
    budget is set (then nothing is read)."""
    _every, budgets = owner_budgets(session, settings, sorted({g.owner for g in groups}))
    if not budgets:
        return {}, {}
    prices: dict[tuple[str, str, int], float] = {}
    for g in groups:
        if g.owner in budgets:
            head = session.execute(select(Job.operation, Job.params).where(
                Job.status == JobStatus.QUEUED.value, Job.admitted_at.is_(None), Job.owner == g.owner,
                Job.queue_group == g.group, Job.priority == g.priority).order_by(Job.created_at).limit(1)).first()
            prices[(g.owner, g.group, g.priority)] = _price(head[0], head[1]) if head is not None else 0.0
    return budgets, prices


def affordable(session: Session, ids: list[str], budgets: list[Budget]) -> tuple[list[str], str | None]:
    """The longest prefix of ``ids`` (one owner's jobs, oldest first) its budgets can pay for at each job's own
    price, taking each kept job's price off them; and the reason the rest wait (None when all fit)."""
    if not budgets or not ids:
        return ids, None
    rows = {i: (op, p) for i, op, p in session.execute(
        select(Job.id, Job.operation, Job.params).where(Job.id.in_(ids)))}
    for n, job_id in enumerate(ids):
        price = _price(*rows[job_id])
        spent = next((b for b in budgets if price > 0 and price > b.left + 1e-9), None)
        if spent is not None:
            return ids[:n], spent.reason(price)
        for budget in budgets:
            budget.left -= price
    return ids, None
