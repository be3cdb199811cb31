"""The admission step on real SQL (SQLite and PostgreSQL): cap and window from the rows, priority and ageing, fair
share across owners and their batches, per-owner and per-batch limits, concurrent admitters, and no slot leaked."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from shared.admission import BULK, INTERACTIVE, admit, parse_priority
from shared.admission.planning import Gates, Group, plan
from shared.admission.priority import effective_priority
from shared.apikeys import create_api_key
from shared.db import open_session
from shared.errors import ValidationError
from shared.models import ApiKey, Attempt, Job, OutboxMessage, RateBucket, utcnow
from shared.producer import add_job

WORDS = {"prompt": "a song about admission"}


def add(settings, n: int, *, priority=None, api_key_id=None, bulk_id=None, age_s: float = 0.0) -> list[str]:
    with open_session(settings) as s:
        jobs = [add_job(s, settings, "lyrics", WORDS, priority=priority, api_key_id=api_key_id, bulk_id=bulk_id)
                for _ in range(n)]
        s.flush()
        if age_s:
            for i, job in enumerate(jobs):
                job.created_at = utcnow() - timedelta(seconds=age_s) + timedelta(milliseconds=i)
        s.commit()
        return [j.id for j in jobs]


def new_key(settings, name: str, **limits) -> str:
    with open_session(settings) as s:
        key = create_api_key(s, settings, name)
        s.flush()
        if limits:
            s.execute(update(ApiKey).where(ApiKey.id == key.id).values(**limits))
        s.commit()
        return key.id


def finish(settings, job_ids: list[str], status: str = "succeeded") -> None:
    with open_session(settings) as s:
        s.execute(update(Job).where(Job.id.in_(job_ids)).values(status=status))
        s.commit()


def admitted_ids(settings) -> set[str]:
    with open_session(settings) as s:
        return set(s.scalars(select(Job.id).where(Job.admitted_at.is_not(None))))


def owner_of(settings, job_ids) -> list[str]:
    with open_session(settings) as s:
        return [s.get(Job, j).owner for j in job_ids]


def test_the_cap_is_counted_from_the_rows_and_a_finished_job_frees_its_slot(any_db):
    capped = any_db.with_overrides(max_in_flight=3)
    ids = add(capped, 10)
    first = admit(capped)
    assert first.admitted == ids[:3]  # FIFO within one owner's single jobs
    again = admit(capped)
    assert again.admitted == [] and again.blocked == "in-flight cap reached (3 of 3)" and again.waiting >= 1
    with open_session(capped) as s:  # each admitted job's submit is an outbox row, written with the admission
        rows = s.execute(select(OutboxMessage.task, OutboxMessage.args)).all()
        assert sorted((task, args[0]) for task, args in rows) == sorted(("hookline.submit_job", j) for j in ids[:3])
    finish(capped, [ids[0]], "failed")
    assert admit(capped).admitted == [ids[3]]
    # A job that is submitted (waiting for its callback) still holds its slot: nothing more.
    finish(capped, [ids[1]], "submitted")
    assert admit(capped).admitted == []


def test_with_no_cap_the_window_keeps_the_broker_shallow(any_db):
    windowed = any_db.with_overrides(admission_window=5)
    ids = add(windowed, 12)
    assert admit(windowed).admitted == ids[:5]
    assert admit(windowed).blocked.startswith("admission window full")
    finish(windowed, ids[:2], "submitted")  # sent upstream: out of the window, no cap holds them
    assert admit(windowed).admitted == ids[5:7]


def test_interactive_goes_before_a_waiting_bulk_and_ageing_lifts_old_bulk_jobs(any_db):
    capped = any_db.with_overrides(max_in_flight=1, priority_ageing=300.0)
    bulk = add(capped, 5, priority="bulk")
    interactive = add(capped, 1)
    assert admit(capped).admitted == interactive
    finish(capped, interactive)
    assert admit(capped).admitted == bulk[:1]
    finish(capped, bulk[:1])
    # A bulk job that has waited two ageing periods ranks with a fresh interactive one, and goes first (older).
    old_bulk = add(capped, 1, priority="bulk", age_s=650)
    fresh = add(capped, 1)
    assert admit(capped).admitted == old_bulk
    finish(capped, old_bulk)
    assert admit(capped).admitted == fresh


def test_two_owners_share_the_cap_equally_whatever_their_backlogs(any_db):
    capped = any_db.with_overrides(max_in_flight=4)
    big, small = new_key(capped, "big"), new_key(capped, "small")
    big_jobs = add(capped, 40, api_key_id=big, priority="bulk")
    small_jobs = add(capped, 6, api_key_id=small, priority="bulk")
    shares = []
    first = admit(capped).admitted
    assert sorted(owner_of(capped, first)) == sorted([big, big, small, small])
    running = list(first)
    for _ in range(8):  # one slot frees at a time, oldest first
        finish(capped, running[:1])
        running = running[1:] + admit(capped).admitted
        shares.append(owner_of(capped, running).count(small))
    assert all(share == 2 for share in shares[:4]), shares  # both have work: half each
    assert set(small_jobs) <= admitted_ids(capped)
    finish(capped, running)
    rest = admit(capped).admitted  # the small owner is done: the big one gets every slot
    assert len(rest) == 4 and set(owner_of(capped, rest)) == {big} and set(rest) <= set(big_jobs)


def test_within_an_owner_batches_take_turns(any_db):
    from shared.models import BulkBatch

    with open_session(any_db) as s:
        a, b = BulkBatch(name="a"), BulkBatch(name="b")
        s.add_all([a, b])
        s.commit()
        a_id, b_id = a.id, b.id
    capped = any_db.with_overrides(max_in_flight=4)
    add(capped, 10, bulk_id=a_id)
    add(capped, 10, bulk_id=b_id)
    with open_session(capped) as s:
        groups = [s.get(Job, j).queue_group for j in admit(capped).admitted]
    assert sorted(groups) == sorted([a_id, a_id, b_id, b_id])


def test_an_owner_limit_holds_its_jobs_and_others_take_the_slots(any_db):
    capped = any_db.with_overrides(max_in_flight=5)
    limited = new_key(capped, "limited", max_in_flight=1)
    add(capped, 5, api_key_id=limited)
    others = add(capped, 5, priority="bulk")
    report = admit(capped)
    assert owner_of(capped, report.admitted).count(limited) == 1 and len(report.admitted) == 5
    assert set(others[:4]) <= set(report.admitted)
    with open_session(capped) as s:
        from shared.admission.views import queue_position

        waiting = s.scalars(select(Job).where(Job.owner == limited, Job.admitted_at.is_(None))).first()
        where = queue_position(s, waiting)
    assert "owner in-flight limit" in where["reason"]


def test_an_owner_rate_admits_one_per_period_and_schedules_one_wake_up(any_db, monkeypatch):
    sent: list[tuple[str, float | None]] = []
    monkeypatch.setattr("shared.admission.core.send",
                        lambda _s, name, *a, countdown=None: sent.append((name, countdown)))
    slow = new_key(any_db, "slow", rate=0.5)
    add(any_db, 4, api_key_id=slow)
    first = admit(any_db)
    assert len(first.admitted) == 1 and first.wake_in is not None and 1.0 < first.wake_in <= 2.0
    second = admit(any_db)
    assert second.admitted == [] and len(sent) == 1  # the wake-up already scheduled is not sent again
    assert sent[0][0] == "hookline.admit"


def test_a_bulk_batch_rate_is_a_limit_inside_admission(any_db, monkeypatch):
    from shared.models import BulkBatch

    monkeypatch.setattr("shared.admission.core.send", lambda *a, **k: None)
    with open_session(any_db) as s:
        batch = BulkBatch(name="slow")
        s.add(batch)
        s.flush()
        s.add(RateBucket(name=f"bulk:{batch.id}", rate=0.2, tokens=0.0, updated_at=0.0, penalty_until=0.0))
        s.commit()
        batch_id = batch.id
    slow = add(any_db, 3, bulk_id=batch_id)
    single = add(any_db, 2)
    report = admit(any_db)
    assert set(report.admitted) == {slow[0], *single}
    assert admit(any_db).admitted == []


def test_concurrent_admitters_never_overshoot_the_cap(any_db):
    capped = any_db.with_overrides(max_in_flight=5)
    add(capped, 40)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(len(admit(capped).admitted))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and sum(results) == 5 and len(admitted_ids(capped)) == 5


def test_priority_words_and_numbers():
    assert (parse_priority("interactive"), parse_priority("Bulk"), parse_priority(150), parse_priority("-20")) == (
        INTERACTIVE, BULK, 150, -20)
    for bad in ("urgent", 5000, True, 1.5, "1e3", "", None):
        with pytest.raises(ValidationError):
            parse_priority(bad)
    now = utcnow()
    assert effective_priority(BULK, now - timedelta(seconds=599), now, 300) == BULK + 100


def test_plan_takes_turns_across_owners_and_stops_at_the_global_bucket():
    now = utcnow()
    groups = [Group("a", "", 0, now, 10), Group("b", "", 0, now + timedelta(seconds=1), 10)]
    tokens = iter([0.0, 0.0, 0.0, 1.5])
    chosen = plan(groups, {}, 6, Gates(now=0.0), 300, now, take_token=lambda: next(tokens))
    assert {g.owner: n for g, n in chosen.picks} == {"a": 2, "b": 1}
    assert chosen.blocked.startswith("global rate limit") and chosen.wake_in == 1.5


def charge(settings, job_ids: list[str], usd: float) -> None:
    """The jobs ran and were charged ``usd`` each (attempt rows, as the submit writes them)."""
    with open_session(settings) as s:
        for job_id in job_ids:
            job = s.get(Job, job_id)
            job.status = "succeeded"
            s.add(Attempt(job_id=job_id, attempt_no=1, operation="lyrics", endpoint="lyrics", outcome="ok",
                          cost_usd=usd, api_key_id=job.api_key_id,
                          started_at=utcnow()))
        s.commit()


def test_a_spent_budget_makes_its_owners_jobs_wait_holding_no_slot_while_others_go_on(any_db):
    from shared.admission.views import queue_position

    capped = any_db.with_overrides(max_in_flight=8)
    thrifty = new_key(capped, "thrifty", budget_usd_per_day=0.05)  # lyrics cost 0.02: two fit, a third does not
    mine = add(capped, 4, api_key_id=thrifty)
    others = add(capped, 4)
    report = admit(capped)
    assert set(owner_of(capped, report.admitted)) == {thrifty, "local"}
    assert sorted(report.admitted) == sorted(mine[:2] + others)  # the budget holds two back; local takes its slots
    assert report.blocked == "per-owner or per-batch limits or daily budgets"
    with open_session(capped) as s:
        where = queue_position(s, s.get(Job, mine[2]))
    assert where["admitted"] is False and where["reason"].startswith(
        "daily budget reached (API key 'thrifty' budget: USD 0.040 of 0.05")
    charge(capped, mine[:2] + others, 0.02)  # they ran and were paid: the slots free, the budget stays spent
    assert admit(capped).admitted == []
    assert admitted_ids(capped).isdisjoint(mine[2:])
    with open_session(capped) as s:  # the day rolls over: yesterday's spend no longer counts
        s.execute(update(Attempt).values(
            started_at=utcnow() - timedelta(days=1)))
        s.commit()
    assert sorted(admit(capped).admitted) == sorted(mine[2:])


def test_the_system_budget_holds_every_owner_and_raising_it_admits(any_db):
    budgeted = any_db.with_overrides(budget_usd_per_day=0.03)
    key = new_key(budgeted, "acme")
    first = add(budgeted, 2, api_key_id=key)
    later = add(budgeted, 2, priority="bulk")
    assert admit(budgeted).admitted == first[:1]  # 0.02 reserved by the admitted job: 0.01 left
    charge(budgeted, first[:1], 0.02)
    report = admit(budgeted)
    assert report.admitted == [] and report.in_flight == 0  # nothing in flight, yet nothing is sent: no slot held
    with open_session(budgeted) as s:
        from shared.admission.views import queue_position

        reason = queue_position(s, s.get(Job, later[0]))["reason"]
    assert "daily budget reached (HOOKLINE_BUDGET_USD_PER_DAY: USD 0.020 of 0.03" in reason
    raised = budgeted.with_overrides(budget_usd_per_day=0.07)  # 0.05 left: two of the three waiting
    assert sorted(admit(raised).admitted) == sorted([first[1], later[0]])


def test_the_sweep_drops_spent_rate_rows_and_keeps_live_ones(any_db, monkeypatch):
    from worker.reconciling import reconcile_overdue

    monkeypatch.setattr("shared.admission.core.send", lambda *a, **k: None)
    slow, done = new_key(any_db, "slow", rate=0.001), new_key(any_db, "done", rate=0.001)
    add(any_db, 2, api_key_id=slow)
    add(any_db, 1, api_key_id=done)
    assert len(admit(any_db).admitted) == 2  # one each; slow's next may go in 1000 s

    def tat_rows() -> dict[str, float]:
        with open_session(any_db) as s:
            return {r.name: r.updated_at for r in s.scalars(select(RateBucket).where(RateBucket.name.like("tat:%")))}

    assert set(tat_rows()) == {f"tat:owner:{slow}", f"tat:owner:{done}"}
    with open_session(any_db) as s:  # done's period has passed: its row admits as a missing one would
        s.execute(update(RateBucket).where(RateBucket.name == f"tat:owner:{done}").values(updated_at=1.0))
        s.commit()
    admit(any_db)
    assert len(tat_rows()) == 2  # an ordinary step prunes nothing
    reconcile_overdue(any_db.with_overrides(public_url=None))
    assert set(tat_rows()) == {f"tat:owner:{slow}"}  # the live one stays: slow's limit still holds
    assert admit(any_db).admitted == []


def test_a_mixed_batch_is_checked_at_each_jobs_own_price(any_db):
    from shared.admission.views import queue_position

    key = new_key(any_db, "mixed", budget_usd_per_day=0.2)
    song = {"prompt": "[Verse]\nla", "tags": "pop", "title": "T", "mv": "chirp-v4"}
    ids = []
    for operation, params in (("lyrics", WORDS), ("music", song), ("lyrics", WORDS), ("lyrics", WORDS),
                              ("lyrics", WORDS)):
        with open_session(any_db) as s:  # one group (the key's single jobs), oldest first; its head costs 0.02
            job = add_job(s, any_db, operation, params, api_key_id=key)
            s.commit()
            ids.append(job.id)
    report = admit(any_db)
    assert report.admitted == ids[:3]  # 0.02 + 0.144 + 0.02 = 0.184; the fourth (0.02) would pass 0.2
    assert report.blocked == "per-owner or per-batch limits or daily budgets"
    with open_session(any_db) as s:
        assert "API key 'mixed' budget: USD 0.184 of 0.20" in queue_position(s, s.get(Job, ids[3]))["reason"]


def reason_of(settings, job_id: str) -> str:
    from shared.admission.views import queue_position

    with open_session(settings) as s:
        return queue_position(s, s.get(Job, job_id))["reason"]


def test_a_job_held_by_its_own_budget_or_limit_says_so_even_when_the_cap_is_full(any_db):
    capped = any_db.with_overrides(max_in_flight=2)
    thrifty = new_key(capped, "thrifty", budget_usd_per_day=0.03)  # one lyrics job (0.02) fits, the second not
    limited = new_key(capped, "limited", max_in_flight=1)
    mine = add(capped, 2, api_key_id=thrifty)
    theirs = add(capped, 2, api_key_id=limited)
    free = add(capped, 1, priority="bulk")
    first = admit(capped)
    assert sorted(first.admitted) == sorted([mine[0], theirs[0]])  # the cap is full now
    again = admit(capped)  # no free slot: the step does not plan, yet each owner's own hold is what lasts
    assert again.admitted == [] and again.blocked == "in-flight cap reached (2 of 2)"
    assert reason_of(capped, mine[1]).startswith("daily budget reached (API key 'thrifty' budget: USD 0.020 of 0.03")
    assert reason_of(capped, theirs[1]) == "owner in-flight limit reached (1 of 1)"
    assert reason_of(capped, free[0]).endswith("; in-flight cap reached (2 of 2)")  # nothing of its own holds it
    charge(capped, [mine[0]], 0.02)  # it ran and was paid: its slot frees, the local job takes it, not thrifty's
    assert admit(capped).admitted == free
    assert reason_of(capped, mine[1]).startswith("daily budget reached (API key 'thrifty' budget: USD 0.020 of 0.03")


def test_an_owner_not_reached_by_a_short_step_still_shows_its_budget(any_db):
    capped = any_db.with_overrides(max_in_flight=1)
    thrifty = new_key(capped, "thrifty", budget_usd_per_day=0.01)  # nothing of it fits
    others = add(capped, 2, age_s=60)
    held = add(capped, 1, api_key_id=thrifty)
    assert admit(capped).admitted == others[:1]  # the one slot went to local before thrifty was looked at
    assert reason_of(capped, held[0]).startswith("daily budget reached (API key 'thrifty' budget: USD 0.000 of 0.01")


def test_the_sweep_drops_a_finished_batchs_rate_rows_and_a_live_batch_keeps_its_limit(any_db, monkeypatch):
    from shared.admission.views import queue_position
    from shared.models import BulkBatch, BulkLine
    from worker.reconciling import reconcile_overdue

    monkeypatch.setattr("shared.admission.core.send", lambda *a, **k: None)
    with open_session(any_db) as s:
        done, live = BulkBatch(name="done"), BulkBatch(name="live")
        accepting = BulkBatch(name="accepting", total=5)  # its file is still being accepted: 1 of 5 lines so far
        s.add_all([done, live, accepting])
        s.flush()
        for batch in (done, live, accepting):
            s.add(RateBucket(name=f"bulk:{batch.id}", rate=0.001, tokens=0.0, updated_at=0.0, penalty_until=0.0))
        s.add(RateBucket(name="bulk:gone", rate=1.0, tokens=0.0, updated_at=0.0, penalty_until=0.0))  # pruned batch
        s.add(BulkLine(owner="", key="k1", bulk_id=accepting.id, line_no=1))
        s.commit()
        done_id, live_id, accepting_id = done.id, live.id, accepting.id
    done_jobs = add(any_db, 1, bulk_id=done_id)
    live_jobs = add(any_db, 3, bulk_id=live_id)
    assert sorted(admit(any_db).admitted) == sorted([done_jobs[0], live_jobs[0]])  # one each; the next in 1000 s

    def rate_rows() -> set[str]:
        with open_session(any_db) as s:
            return set(s.scalars(select(RateBucket.name).where(RateBucket.name != "admission")))

    assert rate_rows() == {f"bulk:{done_id}", f"tat:bulk:{done_id}", f"bulk:{live_id}", f"tat:bulk:{live_id}",
                           f"bulk:{accepting_id}", "bulk:gone"}
    admit(any_db)
    assert len(rate_rows()) == 6  # an ordinary step prunes nothing
    # done's only job is admitted (in flight, not waiting): the batch can admit nothing more, its rows go
    reconcile_overdue(any_db.with_overrides(public_url=None))
    assert rate_rows() == {f"bulk:{live_id}", f"tat:bulk:{live_id}", f"bulk:{accepting_id}"}
    again = admit(any_db)  # the live batch's limit still holds
    assert again.admitted == [] and again.wake_in is not None and again.wake_in > 900
    with open_session(any_db) as s:
        assert queue_position(s, s.get(Job, live_jobs[1]))["reason"] == "bulk batch rate limit (0.001/s)"


def test_a_rated_bulk_files_rate_row_stays_while_its_jobs_wait_and_goes_once_they_are_canceled(any_db, tmp_path,
                                                                                                monkeypatch):
    import json

    from shared.bulk.accept import accept_bulk
    from shared.bulk.progress import bulk_progress
    from shared.bulk.source import BulkSource
    from worker.reconciling import reconcile_overdue

    monkeypatch.setattr("shared.admission.core.send", lambda *a, **k: None)
    lines = tmp_path / "rated.jsonl"
    lines.write_text("".join(json.dumps({"operation": "lyrics", "params": {"prompt": f"p{i}"}}) + "\n"
                             for i in range(3)))
    bulk_id = accept_bulk(any_db, BulkSource.from_path(lines), rate=0.001, chunk_size=2).bulk_id
    sweep = any_db.with_overrides(public_url=None)
    reconcile_overdue(sweep)
    with open_session(any_db) as s:
        assert s.get(RateBucket, f"bulk:{bulk_id}") is not None and bulk_progress(s, bulk_id)["rate"] == 0.001
        waiting = list(s.scalars(select(Job.id).where(Job.bulk_id == bulk_id, Job.admitted_at.is_(None))))
    assert len(waiting) == 2  # the rate let one of three go
    finish(any_db, waiting, "canceled")
    reconcile_overdue(sweep)
    with open_session(any_db) as s:
        assert s.scalars(select(RateBucket.name).where(RateBucket.name.like(f"%bulk:{bulk_id}"))).all() == []
