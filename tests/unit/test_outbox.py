"""The transactional outbox on a migrated SQLite database and a real Redis broker: a finished job's follow-ups
commit with its transition, a failed publish stays an unsent row that the sweep republishes, a sent row is never
republished, and the reconciler runs again the follow-ups of a job whose files were left missing or pending."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from sqlalchemy import select, update

from shared.cli.stack import free_port
from shared.config import Settings
from shared.db import open_session
from shared.jobs.finishing import finish_job, follow_ups_done, rerun_overdue_follow_ups
from shared.models import Artifact, Job, OutboxMessage, utcnow
from shared.outbox import add_follow_up, flush_background_relay, relay, republish_unsent
from shared.states import JobStatus
from shared.tasks import DOWNLOAD_ARTIFACTS, FILES_QUEUE, JOB_FINISHED, QUEUE
from tests.unit.test_artifacts import add_job, rows, serve_clip
from tests.unit.test_metrics import scrape, value
from tests.unit.test_receiver import post, task
from tests.unit.test_safe_fetch import LocalServer
from webhook.app import create_app
from worker.followups import advance_and_hand_off, keep_files, run_follow_ups
from worker.reconciling import reconcile_overdue


@pytest.fixture
def broker_up(settings: Settings, redis_url: str) -> Settings:
    """The test's database, with a real Redis as the broker."""
    return settings.with_overrides(broker_url=redis_url)


@pytest.fixture
def broker_down(settings: Settings) -> Settings:
    """The same database, with a broker nobody listens on (connection refused)."""
    return settings.with_overrides(broker_url=f"redis://127.0.0.1:{free_port()}/0")


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


def queued_messages(redis_url: str, queue: str = QUEUE) -> list[tuple[str, list[object]]]:
    """(task name, args) of every message waiting in the hookline queue (or ``queue``)."""
    found = []
    for raw in redis.Redis.from_url(redis_url).lrange(queue, 0, -1):
        message = json.loads(raw)
        found.append((message["headers"]["task"], json.loads(base64.b64decode(message["body"]))[0]))
    return found


def outbox(settings: Settings) -> list[OutboxMessage]:
    with open_session(settings) as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at)))


def running_job(settings: Settings) -> str:
    return add_job(settings, status=JobStatus.RUNNING.value)


def make_due(settings: Settings) -> None:
    """As if the grace the relay gets had passed."""
    with open_session(settings) as session:
        session.execute(update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        session.commit()


def test_a_transition_and_its_follow_up_commit_together_or_not_at_all(settings: Settings) -> None:
    job_id = running_job(settings)
    with open_session(settings) as session:
        assert finish_job(session, settings, job_id, JobStatus.SUCCEEDED)
        session.rollback()
    with open_session(settings) as session:
        job = session.get(Job, job_id)
        assert job is not None and job.status == "running"
    assert outbox(settings) == []

    with open_session(settings) as session:
        (follow_up,) = finish_job(session, settings, job_id, JobStatus.SUCCEEDED)
        session.commit()
    (row,) = outbox(settings)
    # No pipeline, no cap: nothing for job_finished to do, so the files' task is owed straight away.
    assert (row.id, row.task, row.args, row.sent_at) == (follow_up, DOWNLOAD_ARTIFACTS, [job_id, True], None)
    with open_session(settings) as session:
        job = session.get(Job, job_id)
        assert job is not None and job.status == "succeeded"
        assert job.next_check_at is not None and job.next_check_at > utcnow()  # the reconciler's deadline
        assert finish_job(session, settings, job_id, JobStatus.FAILED) == ()  # terminal: no second follow-up


def test_a_failed_relay_leaves_the_row_unsent_and_the_sweep_republishes_it(
    broker_down: Settings, broker_up: Settings, redis_url: str
) -> None:
    job_id = running_job(broker_down)
    with open_session(broker_down) as session:
        follow_ups = finish_job(session, broker_down, job_id, JobStatus.SUCCEEDED)
        session.commit()

    assert relay(broker_down, follow_ups) == 0  # does not raise
    (row,) = outbox(broker_down)
    assert row.sent_at is None and row.attempts == 1
    assert row.last_error and "refused" in row.last_error.lower()
    assert republish_unsent(broker_up) == 0  # not due yet: the next attempt waits a little

    make_due(broker_up)
    report = reconcile_overdue(broker_up)
    assert report.republished == 1
    assert outbox(broker_up)[0].sent_at is not None
    assert queued_messages(redis_url, FILES_QUEUE) == [(DOWNLOAD_ARTIFACTS, [job_id, True])]


def test_a_sent_row_is_not_republished(broker_up: Settings, redis_url: str) -> None:
    with open_session(broker_up) as session:
        follow_up = add_follow_up(session, JOB_FINISHED, "job-1")
        session.commit()
    assert relay(broker_up, [follow_up, follow_up]) == 1
    assert relay(broker_up, [follow_up]) == 0
    make_due(broker_up)
    assert republish_unsent(broker_up) == 0
    assert reconcile_overdue(broker_up).republished == 0
    assert queued_messages(redis_url) == [(JOB_FINISHED, ["job-1"])]


def test_an_uncommitted_row_is_never_relayed(broker_up: Settings, redis_url: str) -> None:
    with open_session(broker_up) as session:
        follow_up = add_follow_up(session, JOB_FINISHED, "job-1")
        session.rollback()
    assert relay(broker_up, [follow_up]) == 0
    assert queued_messages(redis_url) == []


def test_a_callback_while_the_broker_is_down_is_answered_and_its_follow_up_kept(
    broker_down: Settings, broker_up: Settings, redis_url: str
) -> None:
    job_id = add_job(broker_down, status="submitted")
    with open_session(broker_down) as session:
        session.execute(update(Job).where(Job.id == job_id).values(upstream_task_id="task-1", attempts=1))
        session.commit()
    client = create_app({"HOOKLINE_SETTINGS": broker_down, "TESTING": True}).test_client()

    resp = post(client, broker_down, job_id, task())
    assert resp.status_code == 200 and resp.json["verdict"] == "applied"
    assert flush_background_relay(30)  # the receiver's relay thread tried after the commit, not in the request
    (row,) = outbox(broker_down)
    assert (row.args, row.sent_at, row.attempts) == ([job_id, True], None, 1)
    assert value(scrape(broker_down), "hookline_outbox_unsent") == 1  # visible, not swallowed

    make_due(broker_up)
    assert republish_unsent(broker_up) == 1
    assert queued_messages(redis_url, FILES_QUEUE) == [(DOWNLOAD_ARTIFACTS, [job_id, True])]
    assert value(scrape(broker_up), "hookline_outbox_unsent") == 0


def test_follow_ups_left_with_pending_files_are_run_again_and_then_settled(
    broker_up: Settings, redis_url: str, server: LocalServer
) -> None:
    settings = broker_up.with_overrides(base_url=server.url)  # the test's server is the (allowlisted) upstream
    job_id = add_job(settings, status="running", clips=[serve_clip(server, "c1")])
    with open_session(settings) as session:
        finish_job(session, settings, job_id, JobStatus.SUCCEEDED)
        # A worker died mid-download: its files announced, none fetched.
        session.add(Artifact(job_id=job_id, source_url=server.url + "/cdn/audio/c1.mp3", kind="audio"))
        session.commit()
    assert follow_ups_done(settings, job_id) is False  # a file is still pending
    assert rerun_overdue_follow_ups(settings) == 0  # not due yet

    with open_session(settings) as session:
        session.execute(update(Job).where(Job.id == job_id).values(next_check_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    assert reconcile_overdue(settings).follow_ups_rerun == 1
    assert queued_messages(redis_url) == [(JOB_FINISHED, [job_id])]
    with open_session(settings) as session:
        job = session.get(Job, job_id)
        assert job is not None and job.next_check_at is not None and job.next_check_at > utcnow()
    assert rerun_overdue_follow_ups(settings) == 0  # one rerun per deadline

    assert run_follow_ups(settings, job_id) == []  # what hookline.job_finished runs
    assert [a.status for a in rows(settings, job_id)] == ["stored"] * 3
    with open_session(settings) as session:
        job = session.get(Job, job_id)
        assert job is not None and job.next_check_at is None  # settled: the reconciler leaves it alone


def test_the_advance_hands_the_files_to_their_own_task_and_a_lost_one_is_run_again(
    broker_up: Settings, redis_url: str, server: LocalServer
) -> None:
    settings = broker_up.with_overrides(base_url=server.url)
    job_id = add_job(settings, status="running", clips=[serve_clip(server, "c1")])
    with open_session(settings) as session:
        finish_job(session, settings, job_id, JobStatus.SUCCEEDED)
        session.commit()

    assert advance_and_hand_off(settings, job_id) == []  # what hookline.job_finished runs after admitting
    assert queued_messages(redis_url) == []  # nothing on the pipeline's queue ...
    assert queued_messages(redis_url, FILES_QUEUE) == [(DOWNLOAD_ARTIFACTS, [job_id, True])]  # ... files on theirs
    assert rows(settings, job_id) == [] and server.seen == []  # the advance fetched nothing

    redis.Redis.from_url(redis_url).delete(FILES_QUEUE)  # the download task is lost
    with open_session(settings) as session:
        session.execute(update(Job).where(Job.id == job_id).values(next_check_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    assert rerun_overdue_follow_ups(settings) == 1
    assert queued_messages(redis_url) == [(JOB_FINISHED, [job_id])]  # the whole follow-up again, advance first

    assert keep_files(settings, job_id, settle=False) == []  # an advance that failed: files kept, deadline kept
    assert [a.status for a in rows(settings, job_id)] == ["stored"] * 3
    with open_session(settings) as session:
        job = session.get(Job, job_id)
        assert job is not None and job.next_check_at is not None
    assert keep_files(settings, job_id) == []  # what hookline.download_artifacts runs
    with open_session(settings) as session:
        job = session.get(Job, job_id)
        assert job is not None and job.next_check_at is None  # settled


def _owed_after_finishing(settings: Settings, job_id: str) -> tuple[str, list[object]]:
    with open_session(settings) as session:
        (follow_up,) = finish_job(session, settings, job_id, JobStatus.SUCCEEDED)
        session.commit()
        row = session.get(OutboxMessage, follow_up)
        assert row is not None
        return row.task, row.args


def test_a_job_needs_job_finished_only_for_a_pipeline_or_a_cap(any_db: Settings) -> None:
    from shared.admission.triggers import admit_after_finish
    from shared.apikeys import create_api_key
    from shared.models import ApiKey, Pipeline

    plain = running_job(any_db)
    assert _owed_after_finishing(any_db, plain) == (DOWNLOAD_ARTIFACTS, [plain, True])  # nothing to advance or admit
    assert admit_after_finish(any_db, plain) is None  # what job_finished would have run: nothing either

    capped = any_db.with_overrides(max_in_flight=4)
    job = running_job(capped)
    assert _owed_after_finishing(capped, job) == (JOB_FINISHED, [job])  # its slot frees: admit promptly

    limited_job, free_job, step_job = running_job(any_db), running_job(any_db), running_job(any_db)
    with open_session(any_db) as session:
        limited, free = create_api_key(session, any_db, "limited"), create_api_key(session, any_db, "free")
        pipeline = Pipeline(name="p", spec={})
        session.add(pipeline)
        session.flush()
        session.execute(update(ApiKey).where(ApiKey.id == limited.id).values(max_in_flight=2))
        keyed_ids = {limited.id: limited_job, free.id: free_job}
        for key_id, job_id in keyed_ids.items():
            session.execute(update(Job).where(Job.id == job_id).values(owner=key_id, api_key_id=key_id))
        session.execute(update(Job).where(Job.id == step_job).values(pipeline_id=pipeline.id))
        session.commit()
    assert _owed_after_finishing(any_db, keyed_ids[limited.id]) == (JOB_FINISHED, [keyed_ids[limited.id]])
    assert _owed_after_finishing(any_db, keyed_ids[free.id]) == (DOWNLOAD_ARTIFACTS, [keyed_ids[free.id], True])
    assert _owed_after_finishing(any_db, step_job) == (JOB_FINISHED, [step_job])  # the next step needs the advance
