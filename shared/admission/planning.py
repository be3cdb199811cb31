"""Who gets the free slots: a pure function of the waiting groups, the jobs in flight and the limits.

A group is the waiting jobs of one (owner, queue group, priority): an owner is an API key id or ``local``; a
queue group is a bulk batch, a pipeline, or ``""`` for an owner's single jobs. Each free slot goes to

1. the groups of the highest effective priority (``shared.admission.priority.effective_priority``, from the age
   of the group's oldest job);
2. among them, the owner with the fewest jobs in flight (ties: the owner whose oldest job waited longest), so
   free slots go round-robin across owners and two keys share the cap equally whatever their backlogs;
3. within that owner, its group with the fewest jobs in flight (ties: the oldest), so its batches and pipelines
   take turns; and within a group, FIFO (the caller takes the oldest jobs).

A group whose owner has reached its ``max_in_flight`` or rate, whose next job costs more than a daily budget has
left (``shared.admission.budgets``), or whose bulk batch has reached its rate, is passed over (and the reason kept
for the queued jobs' views); the global token bucket stops the whole step. An owner the step does not reach (no
slot left, or none free at all) still gets the reason of its own lasting hold (its ``max_in_flight``, a budget):
that, not the global cap, is what keeps its jobs waiting after a slot frees.

Rates per owner and per batch are GCRA: a theoretical arrival time (``tat``) per scope, one admission allowed
when ``tat <= now``, after which ``tat = max(tat, now) + 1 / rate``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from shared.admission.priority import effective_priority


@dataclass
class Group:
    owner: str
    group: str
    priority: int
    head: datetime  # created_at of its oldest waiting job
    waiting: int
    taken: int = 0


@dataclass
class Budget:
    """A daily budget as the admission step sees it (``shared.admission.budgets``)."""

    name: str  # as the submit's refusal names it: HOOKLINE_BUDGET_USD_PER_DAY, or "API key 'acme' budget"
    cap: float
    left: float  # cap - spent today - reserved by jobs admitted and not yet claimed

    def reason(self, price: float) -> str:
        return (f"daily budget reached ({self.name}: USD {self.cap - self.left:.3f} of {self.cap:.2f} spent or "
                f"reserved today; the next job costs USD {price:.3f})")


@dataclass
class Gates:
    now: float  # unix seconds
    owner_cap: dict[str, int] = field(default_factory=dict)
    owner_rate: dict[str, float] = field(default_factory=dict)
    batch_rate: dict[str, float] = field(default_factory=dict)
    tats: dict[str, float] = field(default_factory=dict)  # "owner:<id>" / "bulk:<id>" -> theoretical arrival time
    budgets: dict[str, list[Budget]] = field(default_factory=dict)  # owner -> its daily budgets (shared objects)
    prices: dict[tuple[str, str, int], float] = field(default_factory=dict)  # a group's next job's price


@dataclass
class Plan:
    picks: list[tuple[Group, int]]
    blocked: str | None = None
    wake_in: float | None = None
    owner_reasons: dict[str, str] = field(default_factory=dict)
    group_reasons: dict[str, str] = field(default_factory=dict)
    tats: dict[str, float] = field(default_factory=dict)  # the scopes whose tat moved: to store


def _own_hold(group: Group, owner_load: Counter[str], gates: Gates) -> tuple[str | None, bool]:
    """What keeps ``group`` waiting however many global slots free: its owner at its ``max_in_flight`` (True: the
    whole owner), or a daily budget its next job does not fit in (False: this group; it holds no slot and waits for
    the day to roll over or the budget to be raised). (None, False) when neither."""
    cap = gates.owner_cap.get(group.owner)
    if cap is not None and owner_load[group.owner] >= cap:
        return f"owner in-flight limit reached ({owner_load[group.owner]} of {cap})", True
    price = gates.prices.get((group.owner, group.group, group.priority), 0.0)
    spent = next((b for b in gates.budgets.get(group.owner, ()) if price > 0 and price > b.left + 1e-9), None)
    return (spent.reason(price), False) if spent is not None else (None, False)


def _rate_wait(gates: Gates, scope: str) -> float:
    return max(0.0, gates.tats.get(scope, 0.0) - gates.now)


def plan(groups: list[Group], loads: dict[tuple[str, str], int], free: int, gates: Gates, ageing_s: float,
         now: datetime, *, take_token: Callable[[], float]) -> Plan:
    """Choose up to ``free`` jobs (as (group, how many) pairs). ``loads``: jobs in flight per (owner, group);
    ``take_token``: takes one token of the global bucket, returning 0.0 or the seconds to wait."""
    owner_load: Counter[str] = Counter()
    group_load: Counter[tuple[str, str]] = Counter()
    for (who, queue), n in loads.items():
        owner_load[who] += n
        group_load[(who, queue)] += n
    eff = {id(g): effective_priority(g.priority, g.head, now, ageing_s) for g in groups}
    result = Plan(picks=[])
    out: set[str] = set()  # owners passed over
    out_groups: set[tuple[str, str]] = set()
    waits: list[float] = []
    admitted = 0
    while admitted < free:
        open_groups = [g for g in groups if g.taken < g.waiting and g.owner not in out
                       and (g.owner, g.group) not in out_groups]
        if not open_groups:
            break
        top = max(eff[id(g)] for g in open_groups)
        level = [g for g in open_groups if eff[id(g)] == top]
        heads: dict[str, datetime] = {}
        for g in level:
            heads[g.owner] = min(heads.get(g.owner, g.head), g.head)
        owner = min(heads, key=lambda o: (owner_load[o], heads[o], o))
        group = min((g for g in level if g.owner == owner),
                    key=lambda g: (group_load[(g.owner, g.group)], g.head, g.group))
        held, whole_owner = _own_hold(group, owner_load, gates)
        if held is not None:
            result.owner_reasons[owner] = held
            if whole_owner:
                out.add(owner)
            else:
                out_groups.add((group.owner, group.group))
            continue
        price = gates.prices.get((group.owner, group.group, group.priority), 0.0)
        if owner in gates.owner_rate and (wait := _rate_wait(gates, "owner:" + owner)) > 0:
            result.owner_reasons[owner] = f"owner rate limit ({gates.owner_rate[owner]:g}/s)"
            out.add(owner)
            waits.append(wait)
            continue
        if group.group in gates.batch_rate and (wait := _rate_wait(gates, "bulk:" + group.group)) > 0:
            result.group_reasons[group.group] = f"bulk batch rate limit ({gates.batch_rate[group.group]:g}/s)"
            out_groups.add((group.owner, group.group))
            waits.append(wait)
            continue
        wait = take_token()
        if wait > 0:
            result.blocked = "global rate limit (HOOKLINE_UPSTREAM_RATE or a 429 pause)"
            waits.append(wait)
            break
        for scope, rate in (("owner:" + owner, gates.owner_rate.get(owner)),
                            ("bulk:" + group.group, gates.batch_rate.get(group.group))):
            if rate:
                gates.tats[scope] = result.tats[scope] = max(gates.tats.get(scope, 0.0), gates.now) + 1.0 / rate
        for budget in gates.budgets.get(owner, ()):
            budget.left -= price
        group.taken += 1
        owner_load[owner] += 1
        group_load[(owner, group.group)] += 1
        admitted += 1
    # The owners the loop did not reach (no slot left for them, or none to begin with: ``free`` 0): their own
    # lasting hold, if any, is what their jobs' views say, not the global cap or window that also holds them.
    for g in sorted(groups, key=lambda g: (-eff[id(g)], g.head)):
        if (g.taken < g.waiting and g.owner not in out and (g.owner, g.group) not in out_groups
                and g.owner not in result.owner_reasons):
            held, _ = _own_hold(g, owner_load, gates)
            if held is not None:
                result.owner_reasons[g.owner] = held
    result.picks = [(g, g.taken) for g in groups if g.taken]
    if waits:
        result.wake_in = min(waits)
    if result.blocked is None and admitted < free and (result.owner_reasons or result.group_reasons):
        result.blocked = "per-owner or per-batch limits or daily budgets"
    return result
