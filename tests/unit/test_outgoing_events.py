"""Which events are recorded, when, and only once (a redelivered follow-up never sends an event twice)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from shared.bulk.accept import accept_bulk
from shared.bulk.source import BulkSource
from shared.db import open_session
from shared.models import BulkBatch, Delivery, Job, utcnow
from shared.outgoing import emit_bulk_event_if_done, emit_job_event, emit_pipeline_event
from shared.states import JobStatus, transition

URL = "http://127.0.0.1:9/hook"


@pytest.fixture
def hook_settings(settings):
    return settings.with_overrides(callback_allowlist=("127.0.0.1",))


def deliveries(settings) -> list[Delivery]:
    with open_session(settings) as s:
        return list(s.scalars(select(Delivery).order_by(Delivery.created_at)))


def make_job(settings, status="queued", callback_url=URL, **links) -> str:
    now = utcnow()
    with open_session(settings) as s:
        job = Job(operation="lyrics", params={"prompt": "x"}, status=status, callback_url=callback_url,
                  created_at=now, updated_at=now, **links)
        s.add(job)
        s.commit()
        return job.id


def finish(settings, job_id, status=JobStatus.SUCCEEDED, **fields) -> None:
    with open_session(settings) as s:
        assert transition(s, job_id, status, **fields)
        s.commit()


@pytest.mark.parametrize("status, event", [(JobStatus.SUCCEEDED, "job.succeeded"), (JobStatus.FAILED, "job.failed"),
                                           (JobStatus.CANCELED, "job.canceled")])
def test_terminal_job_gets_one_event_however_often_the_follow_up_runs(hook_settings, status, event):
    job_id = make_job(hook_settings, status="running")
    emit_job_event(hook_settings, job_id)
    assert deliveries(hook_settings) == []  # not terminal yet
    finish(hook_settings, job_id, status)
    for _ in range(3):
        emit_job_event(hook_settings, job_id)
    (delivery,) = deliveries(hook_settings)
    assert delivery.event_type == event and delivery.target_url == URL and delivery.status == "pending"
    assert delivery.payload["type"] == event and delivery.payload["data"]["id"] == job_id
    assert delivery.payload["data"]["status"] == status.value
    assert delivery.msg_id.startswith("msg_")


def test_jobs_without_callback_url_send_nothing(hook_settings):
    job_id = make_job(hook_settings, status="running", callback_url=None)
    finish(hook_settings, job_id)
    emit_job_event(hook_settings, job_id)
    emit_job_event(hook_settings, "no-such-job")
    assert deliveries(hook_settings) == []


def test_bulk_finished_goes_once_after_the_last_line(hook_settings, tmp_path):
    lines = [{"operation": "lyrics", "params": {"prompt": f"p{n}"}} for n in range(3)]
    path = tmp_path / "three.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = accept_bulk(hook_settings, BulkSource.from_path(path), callback_url=URL)
    assert report.accepted == 3
    with open_session(hook_settings) as s:
        job_ids = list(s.scalars(select(Job.id).where(Job.bulk_id == report.bulk_id)))
    for job_id in job_ids[:2]:
        finish(hook_settings, job_id)
        emit_job_event(hook_settings, job_id)
    assert deliveries(hook_settings) == []  # one line still in flight
    finish(hook_settings, job_ids[2], JobStatus.FAILED, error="boom")
    emit_job_event(hook_settings, job_ids[2])
    emit_job_event(hook_settings, job_ids[2])
    assert not emit_bulk_event_if_done(hook_settings, report.bulk_id)  # already marked
    (delivery,) = deliveries(hook_settings)
    assert delivery.event_type == "bulk.finished"
    data = delivery.payload["data"]
    assert (data["id"], data["accepted"], data["succeeded"], data["failed"], data["finished"]) == (
        report.bulk_id, 3, 2, 1, True)
    with open_session(hook_settings) as s:
        assert s.get(BulkBatch, report.bulk_id).finished_event_sent


def test_pipeline_event_when_it_ends(hook_settings):
    pipelines = pytest.importorskip("shared.pipelines", reason="pipelines (shared.pipelines) are not installed")
    spec = {"steps": {"words": {"op": "lyrics", "params": {"prompt": "a cat"}}}}
    pipeline_id = pipelines.create_pipeline(hook_settings, spec, name="p", callback_url=URL)
    emit_pipeline_event(hook_settings, pipeline_id)
    assert deliveries(hook_settings) == []  # still running
    pipelines.cancel_pipeline(hook_settings, pipeline_id)
    emit_pipeline_event(hook_settings, pipeline_id)
    emit_pipeline_event(hook_settings, pipeline_id)
    (delivery,) = deliveries(hook_settings)
    assert delivery.event_type == "pipeline.canceled"
    assert delivery.payload["data"]["id"] == pipeline_id and delivery.payload["data"]["status"] == "canceled"
