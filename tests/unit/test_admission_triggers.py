"""When a worker's event runs an admission step (``shared.admission.triggers``), on real SQL: a sent submit refills
the window once it is half empty, a finished job frees a slot only under a cap (global or its owner's), and the
last submit of a batch always admits the next, so a backlog drains with no sweep."""

from __future__ import annotations

from sqlalchemy import select, update

from shared.admission import admit
from shared.admission.triggers import admit_after_finish, admit_after_submit
from shared.db import open_session
from shared.models import Job
from tests.unit.test_admission import add, admitted_ids, finish, new_key


def send_upstream(settings, job_id: str) -> None:
    """What an accepted submit leaves: the job submitted, no longer waiting in the window."""
    with open_session(settings) as s:
        s.execute(update(Job).where(Job.id == job_id).values(status="submitted"))
        s.commit()


def test_a_sent_submit_refills_the_window_only_once_it_is_half_empty(any_db):
    windowed = any_db.with_overrides(admission_window=4)
    ids = add(windowed, 12)
    assert admit(windowed).admitted == ids[:4]
    send_upstream(windowed, ids[0])  # 3 of 4 still waiting to be sent: more than half
    assert admit_after_submit(windowed, job_id=ids[0], left_window=True, finished=False) is None
    assert admitted_ids(windowed) == set(ids[:4])
    send_upstream(windowed, ids[1])  # 2 of 4: half free, one step refills both places
    report = admit_after_submit(windowed, job_id=ids[1], left_window=True, finished=False)
    assert report is not None and report.admitted == ids[4:6]
    # A retried or ambiguous submit keeps its place: no step, whatever the window holds.
    assert admit_after_submit(windowed, job_id=ids[2], left_window=False, finished=False) is None


def test_the_last_submits_of_a_batch_drain_a_backlog_without_the_sweep(any_db):
    windowed = any_db.with_overrides(admission_window=3)
    ids = add(windowed, 10)
    admit(windowed)
    sent: list[str] = []
    while len(sent) < len(ids):  # a worker sending whatever was admitted, one submit at a time
        with open_session(windowed) as s:
            ready = list(s.scalars(select(Job.id).where(Job.status == "queued", Job.admitted_at.is_not(None))
                                   .order_by(Job.created_at)))
        assert ready, f"stalled with {len(ids) - len(sent)} jobs never admitted"
        send_upstream(windowed, ready[0])
        sent.append(ready[0])
        admit_after_submit(windowed, job_id=ready[0], left_window=True, finished=False)
    assert sent == ids  # FIFO, every job, no sweep


def test_under_a_cap_no_larger_than_the_window_a_sent_submit_runs_no_step(any_db):
    capped = any_db.with_overrides(max_in_flight=2, admission_window=4)
    ids = add(capped, 5)
    admit(capped)
    send_upstream(capped, ids[0])
    send_upstream(capped, ids[1])
    assert admit_after_submit(capped, job_id=ids[1], left_window=True, finished=False) is None
    finish(capped, [ids[1]])  # a submit that finished at once frees its slot under the cap
    report = admit_after_submit(capped, job_id=ids[1], left_window=True, finished=True)
    assert report is not None and report.admitted == [ids[2]]


def test_a_finished_job_runs_a_step_only_when_a_cap_counted_its_slot(any_db):
    ids = add(any_db, 3)
    admit(any_db)
    finish(any_db, [ids[0]])
    assert admit_after_finish(any_db, ids[0]) is None  # no cap anywhere: finishing frees nothing admission counts
    capped = any_db.with_overrides(max_in_flight=5)
    assert admit_after_finish(capped, ids[0]) is not None
    limited = new_key(any_db, "limited", max_in_flight=1)
    free = new_key(any_db, "free")
    mine = add(any_db, 2, api_key_id=limited)
    theirs = add(any_db, 1, api_key_id=free)
    assert sorted(admit(any_db).admitted) == sorted([mine[0], theirs[0]])  # the owner's limit holds its second
    finish(any_db, [mine[0]])
    assert admit_after_finish(any_db, theirs[0]) is None  # its owner has no limit
    report = admit_after_finish(any_db, mine[0])
    assert report is not None and report.admitted == [mine[1]]
