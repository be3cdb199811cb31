"""The ledger: every upstream call is an attempt row with its price; budgets are checked here before paying."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from shared.cometapi.endpoints import ENDPOINTS
from shared.config import Settings
from shared.errors import ValidationError
from shared.models import ApiKey, Attempt, CostDay, Job, utcnow
from shared.states import AttemptOutcome, JobStatus, transition

# Outcomes after which the upstream may have charged us: the money counts against the budget.
CHARGED = frozenset({AttemptOutcome.PENDING, AttemptOutcome.ACCEPTED, AttemptOutcome.AMBIGUOUS,
                     AttemptOutcome.RECOVERED, AttemptOutcome.LATE_ORPHAN, AttemptOutcome.OK})
# Outcomes that prove nothing was accepted (safe to requeue a job whose attempts are all of these).
UNSENT = frozenset({AttemptOutcome.REFUSED, AttemptOutcome.REJECTED, AttemptOutcome.BUDGET_REFUSED})
BUDGET_EXCEEDED = "budget exceeded"


def _words(outcomes: frozenset[AttemptOutcome]) -> list[str]:
    """The words the column stores, in a fixed order, for an IN clause."""
    return sorted(o.value for o in outcomes)


def day_start(now: datetime | None = None) -> datetime:
    now = now or utcnow()
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def spent_since(session: Session, since: datetime, *, api_key_id: str | None = None) -> float:
    stmt = select(func.coalesce(func.sum(Attempt.cost_usd), 0.0)).where(
        Attempt.started_at >= since, Attempt.outcome.in_(_words(CHARGED))
    )
    if api_key_id is not None:
        stmt = stmt.where(Attempt.api_key_id == api_key_id)
    return float(session.scalar(stmt) or 0.0)


def daily_caps(session: Session, settings: Settings, api_key_id: str | None) -> list[tuple[str, float, str | None]]:
    """The daily caps that apply to work of ``api_key_id``: (name, USD per day, the key id the spend is scoped to)."""
    caps: list[tuple[str, float, str | None]] = []
    if settings.budget_usd_per_day is not None:
        caps.append(("HOOKLINE_BUDGET_USD_PER_DAY", settings.budget_usd_per_day, None))
    if api_key_id:
        key = session.get(ApiKey, api_key_id)
        if key is not None and key.budget_usd_per_day is not None:
            caps.append((f"API key {key.name!r} budget", key.budget_usd_per_day, key.id))
    return caps


class OverBudget(ValidationError):
    """The cost estimate of a pipeline or bulk file exceeds what a daily budget has left; nothing was written."""

    def __init__(self, message: str, *, estimate_usd: float, remaining_usd: float, budget: str) -> None:
        super().__init__(message, field="budget")
        self.estimate_usd, self.remaining_usd, self.budget = estimate_usd, remaining_usd, budget


def check_estimate(session: Session, settings: Settings, api_key_id: str | None, estimate_usd: float,
                   what: str) -> None:
    """Refuse (OverBudget) work whose estimate exceeds the remaining daily budget of its key or of the system."""
    if estimate_usd <= 0:
        return
    for name, cap, key_id in daily_caps(session, settings, api_key_id):
        remaining = max(0.0, cap - spent_since(session, day_start(), api_key_id=key_id))
        if estimate_usd > remaining + 1e-9:
            raise OverBudget(f"{what} is estimated at ${estimate_usd:.3f}, over what {name} has left today: "
                             f"${remaining:.3f} of ${cap:.2f}/day", estimate_usd=estimate_usd,
                             remaining_usd=remaining, budget=name)


def budget_refusal(session: Session, settings: Settings, job: Job, price: float) -> str | None:
    """Why this paid call must not be sent (a reason naming the cap), or None. Checked before anything leaves.

    Pending attempts count (they carry their price from the moment they are written), so parallel workers see
    each other's reservations.
    """
    if price <= 0:
        return None
    since = day_start()
    for name, cap, key_id in daily_caps(session, settings, job.api_key_id):
        spent = spent_since(session, since, api_key_id=key_id)
        if spent + price > cap + 1e-9:
            return (f"{BUDGET_EXCEEDED}: {name} is ${cap:.2f}/day; spent ${spent:.3f} today, "
                    f"this call costs ${price:.3f}")
    return None


def requeue_unsent(session: Session, job_id: str) -> bool:
    """Put a failed job back in the queue if the upstream never accepted anything for it. The caller commits."""
    charged = session.scalar(
        select(func.count()).select_from(Attempt)
        .where(Attempt.job_id == job_id, Attempt.outcome.notin_(_words(UNSENT)))
    )
    if charged:
        return False
    # Back to waiting for admission: the admission step sends it (and sets its deadline) when a slot is free.
    return transition(session, job_id, JobStatus.QUEUED, only_from=frozenset({JobStatus.FAILED}), error=None,
                      finished_at=None, next_check_at=None, admitted_at=None)


def paid_endpoint(endpoint: str | None) -> bool:
    """A call to an endpoint that charges (an unknown endpoint counts as paid: never under-report spend)."""
    known = ENDPOINTS.get(endpoint) if endpoint else None
    return known is None or known.paid


def pruned_costs(since: datetime | None = None) -> Select[str, str, int, float, float]:
    """The daily totals of attempts ``hookline prune`` removed (day, operation, calls, usd, possible duplicate usd),
    per day, operation and API key: every cost report adds these to the attempts still present."""
    stmt = select(CostDay.day, CostDay.operation, CostDay.calls, CostDay.usd, CostDay.possible_duplicate_usd)
    if since is not None:  # whole days: a prune keeps no time of day (the cutoff is a day back at least)
        stmt = stmt.where(CostDay.day >= since.astimezone(UTC).date().isoformat())
    return stmt


def cost_summary(session: Session, since: datetime | None = None) -> dict[str, Any]:
    """Spend by day and operation, with possible duplicate charges called out. ``calls`` counts the calls to paid
    endpoints only; the free ones (export GETs, task fetches) are ``free_calls``."""
    stmt = select(Attempt.started_at, Attempt.operation, Attempt.cost_usd, Attempt.possible_duplicate,
                  Attempt.endpoint)
    if since is not None:
        stmt = stmt.where(Attempt.started_at >= since)
    by_day: dict[str, float] = {}
    by_operation: dict[str, dict[str, float]] = {}
    total = duplicates = 0.0
    calls = free_calls = 0
    charged = stmt.where(Attempt.outcome.in_(_words(CHARGED)))
    for started, operation, cost, possible_duplicate, endpoint in session.execute(charged):
        if not paid_endpoint(endpoint):
            free_calls += 1
            continue
        day = started.date().isoformat()
        by_day[day] = by_day.get(day, 0.0) + cost
        entry = by_operation.setdefault(operation, {"calls": 0, "usd": 0.0})
        entry["calls"] += 1
        entry["usd"] += cost
        total += cost
        calls += 1
        if possible_duplicate:
            duplicates += cost
    for day, operation, pruned_calls, usd, duplicate_usd in session.execute(pruned_costs(since)):
        by_day[day] = by_day.get(day, 0.0) + usd
        entry = by_operation.setdefault(operation, {"calls": 0, "usd": 0.0})
        entry["calls"] += pruned_calls
        entry["usd"] += usd
        total += usd
        calls += pruned_calls
        duplicates += duplicate_usd
    return {"total_usd": round(total, 6), "calls": calls, "free_calls": free_calls,
            "possible_duplicate_usd": round(duplicates, 6),
            "by_day": {d: round(v, 6) for d, v in sorted(by_day.items())},
            "by_operation": {op: {"calls": int(v["calls"]), "usd": round(v["usd"], 6)}
                             for op, v in sorted(by_operation.items())}}
