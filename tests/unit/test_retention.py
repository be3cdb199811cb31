"""`hookline prune` on SQLite and PostgreSQL: old finished work goes (rows, artifact files, consumed broker
messages), unfinished work and recent work stay, and the ledger's totals are the same before and after."""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from shared.cli.main import main
from shared.config import Settings
from shared.db import engine_for, open_session
from shared.errors import ValidationError
from shared.jobs.ledger import cost_summary
from shared.models import (
    Artifact,
    Attempt,
    CallbackRecord,
    Clip,
    CostDay,
    Delivery,
    IdempotencyRecord,
    Job,
    OutboxMessage,
    Pipeline,
    PipelineStep,
    utcnow,
)
from shared.retention import parse_age, prune
from tests.unit.api_clients import api_client

OLD = utcnow() - timedelta(days=40)
RECENT = utcnow() - timedelta(days=2)


def add_job(session: object, *, status: str, at: object, pipeline_id: str | None = None, cost: float = 0.1,
            outcome: str = "accepted", api_key_id: str | None = None) -> str:
    job = Job(operation="music", params={}, status=status, created_at=at, updated_at=at,
              finished_at=at if status in ("succeeded", "failed", "canceled") else None, pipeline_id=pipeline_id)
    session.add(job)  # type: ignore[attr-defined]
    session.flush()  # type: ignore[attr-defined]
    session.add_all([  # type: ignore[attr-defined]
        Attempt(job_id=job.id, attempt_no=1, operation="music", endpoint="music", outcome=outcome, cost_usd=cost,
                started_at=at, api_key_id=api_key_id),
        Attempt(job_id=job.id, attempt_no=2, operation="music", endpoint="fetch", outcome="ok", cost_usd=0.0,
                started_at=at),
        Clip(job_id=job.id, clip_id=f"clip-{job.id[:6]}"),
        CallbackRecord(job_id=job.id, verdict="accepted", http_status=200, received_at=at),
    ])
    return job.id


@pytest.fixture
def world(any_db: Settings, tmp_path: Path) -> dict[str, object]:
    """Old and recent, finished and unfinished work of every kind, and an artifact file on disk."""
    settings = any_db.with_overrides(artifact_dir=tmp_path / "artifacts")
    ids: dict[str, object] = {}
    with open_session(settings) as s:
        ids["old_done"] = add_job(s, status="succeeded", at=OLD, cost=0.2, api_key_id=None)
        ids["old_failed_dup"] = add_job(s, status="failed", at=OLD, outcome="ambiguous", cost=0.3)
        ids["old_running"] = add_job(s, status="running", at=OLD)
        ids["recent_done"] = add_job(s, status="succeeded", at=RECENT)
        done_pipe = Pipeline(name="done", status="succeeded", created_at=OLD, updated_at=OLD, finished_at=OLD)
        live_pipe = Pipeline(name="live", status="running", created_at=OLD, updated_at=OLD)
        s.add_all([done_pipe, live_pipe])
        s.flush()
        s.add_all([PipelineStep(pipeline_id=done_pipe.id, name="a", operation="music", status="succeeded"),
                   PipelineStep(pipeline_id=live_pipe.id, name="a", operation="music", status="dispatched")])
        ids["done_pipe"], ids["live_pipe"] = done_pipe.id, live_pipe.id
        ids["done_pipe_job"] = add_job(s, status="succeeded", at=OLD, pipeline_id=done_pipe.id)
        ids["live_pipe_job"] = add_job(s, status="succeeded", at=OLD, pipeline_id=live_pipe.id)
        s.add_all([
            CallbackRecord(job_id="no-such-job", verdict="unknown_job", http_status=404, received_at=OLD),
            Delivery(msg_id="msg_old", event_type="job.finished", target_url="http://x", status="delivered",
                     created_at=OLD, updated_at=OLD),
            Delivery(msg_id="msg_pending", event_type="job.finished", target_url="http://x", status="pending",
                     created_at=OLD, updated_at=OLD),
            OutboxMessage(task="hookline.submit_job", args=[], created_at=OLD, sent_at=OLD),
            OutboxMessage(task="hookline.submit_job", args=[], created_at=OLD, sent_at=None),
            IdempotencyRecord(key="old", request_hash="h", status="done", created_at=OLD, status_code=202),
            IdempotencyRecord(key="new", request_hash="h", status="done", created_at=RECENT, status_code=202),
        ])
        s.commit()
    job_dir = tmp_path / "artifacts" / str(ids["old_done"])
    job_dir.mkdir(parents=True)
    (job_dir / "song.mp3").write_bytes(b"ID3" + b"\0" * 997)
    with open_session(settings) as s:
        s.add_all([Artifact(job_id=ids["old_done"], kind="audio", source_url="http://cdn/a.mp3", status="stored",
                            path=str(job_dir / "song.mp3"), size=1000),
                   Artifact(job_id=ids["old_failed_dup"], kind="audio", source_url="http://cdn/b.mp3",
                            status="stored", path="/etc/hostname", size=1)])  # outside the folder: never deleted
        s.commit()
    ids["settings"], ids["file"] = settings, job_dir / "song.mp3"
    return ids


def dashboard_costs(settings: Settings) -> tuple[object, object]:
    from webhook.dashboard.auth import Viewer
    from webhook.dashboard.cost_pages import spend_per_day, spend_per_operation

    operator = Viewer("operator")
    with open_session(settings) as s:
        per_day = [(r.label, round(r.spent, 6), r.calls) for r in spend_per_day(s, operator, 60, None) if r.calls]
        per_op = [(r.label, round(r.spent, 6)) for r in spend_per_operation(s, operator, 60)]
    assert per_day and per_op
    return per_day, per_op


def remaining(settings: Settings) -> dict[str, int]:
    with open_session(settings) as s:
        return {model.__tablename__: int(s.scalar(select(func.count()).select_from(model)) or 0)
                for model in (Job, Attempt, Clip, CallbackRecord, Artifact, Pipeline, PipelineStep, Delivery,
                              OutboxMessage, IdempotencyRecord)}


def test_prune_keeps_unfinished_work_and_the_ledger_totals(world: dict[str, object]) -> None:
    settings = world["settings"]
    assert isinstance(settings, Settings)
    with open_session(settings) as s:
        before_costs = cost_summary(s)
    before = remaining(settings)
    api = api_client(settings)
    window = f"/v1/costs?since={(OLD - timedelta(days=1)).date().isoformat()}"
    before_api = api.get(window).json
    assert before_api["total_usd"] > 0
    before_page = dashboard_costs(settings)

    dry = prune(settings, timedelta(days=30), dry_run=True)
    assert remaining(settings) == before and Path(str(world["file"])).is_file()  # a dry run changes nothing

    report = prune(settings, timedelta(days=30))
    assert {k: v for k, v in dry.rows.items() if v} == {k: v for k, v in report.rows.items() if v}
    assert report.rows["jobs"] == 3  # old_done, old_failed_dup, done_pipe_job
    assert report.rows["pipelines"] == 1 and report.rows["upstream_attempts"] == 6
    assert report.rows["deliveries"] == 1 and report.rows["outbox"] == 1 and report.rows["idempotency_keys"] == 1
    assert report.rows["callbacks"] == 4  # three jobs' callbacks and the orphan
    assert not Path(str(world["file"])).exists() and not Path(str(world["file"])).parent.exists()
    assert report.files == 1 and report.file_bytes == 1000
    assert Path("/etc/hostname").exists() and any("/etc/hostname" in e for e in report.file_errors)

    with open_session(settings) as s:
        left = set(s.scalars(select(Job.id)))
        assert left == {world["old_running"], world["recent_done"], world["live_pipe_job"]}
        assert set(s.scalars(select(Pipeline.id))) == {world["live_pipe"]}
        assert list(s.scalars(select(Delivery.msg_id))) == ["msg_pending"]
        assert list(s.scalars(select(OutboxMessage.sent_at))) == [None]
        assert list(s.scalars(select(IdempotencyRecord.key))) == ["new"]
        after_costs = cost_summary(s)
        folded = {(d.day, d.operation, d.calls, round(d.usd, 6)) for d in s.scalars(select(CostDay))}
    assert after_costs == before_costs  # totals, by day, by operation, possible duplicates: unchanged
    assert api.get(window).json == before_api  # the API's per-day spend too
    assert dashboard_costs(settings) == before_page  # and the dashboard's cost page
    # 0.2 + 0.3 (ambiguous: maybe charged) + 0.1 (the pipeline job); the free fetches count as calls, as in costs
    assert folded == {(OLD.astimezone(UTC).date().isoformat(), "music", 6, 0.6)}

    again = prune(settings, timedelta(days=30))  # nothing left to prune; totals still unchanged
    assert not any(again.rows.values())
    with open_session(settings) as s:
        assert cost_summary(s) == before_costs


def test_prune_deletes_consumed_embedded_broker_messages(settings: Settings) -> None:
    from shared.config import EMBEDDED_BROKER_SCHEME

    engine = engine_for(settings.broker_url.removeprefix(EMBEDDED_BROKER_SCHEME))
    old, new = "2000-01-01 00:00:00", "2999-01-01 00:00:00"
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE kombu_message (id INTEGER PRIMARY KEY, visible BOOLEAN, timestamp DATETIME,"
                          " payload TEXT, version SMALLINT, queue_id INTEGER)"))
        for visible, at in ((0, old), (0, old), (1, old), (1, None), (0, new)):
            conn.execute(text("INSERT INTO kombu_message (visible, timestamp, payload, version) "
                              "VALUES (:v, :t, 'x', 1)"), {"v": visible, "t": at})
    assert prune(settings, timedelta(days=30), dry_run=True).rows["kombu_message"] == 2
    assert prune(settings, timedelta(days=30)).rows["kombu_message"] == 2
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM kombu_message")).scalar() == 3  # waiting ones stay


@pytest.mark.parametrize("bad", ["0d", "12h", "abc", "-3d", "30x", ""])
def test_prune_refuses_bad_ages(bad: str) -> None:
    with pytest.raises(ValidationError):
        parse_age(bad)


def test_prune_cli(settings: Settings, base_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in base_env.items():
        monkeypatch.setenv(key, value)
    with open_session(settings) as s:
        add_job(s, status="succeeded", at=OLD)
        s.commit()
    runner = CliRunner()
    dry = runner.invoke(main, ["prune", "--older-than", "30d", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["rows"]["jobs"] == 1 and json.loads(dry.stdout)["dry_run"] is True
    done = runner.invoke(main, ["prune", "--older-than", "4w", "--keep-artifacts"])
    assert done.exit_code == 0 and "jobs" in done.stdout and "artifact files kept" in done.stdout
    bad = runner.invoke(main, ["prune", "--older-than", "5m"])
    assert bad.exit_code == 2 and "--older-than" in bad.stderr
    assert parse_age("2w") == timedelta(days=14) and parse_age("36h") == timedelta(hours=36)


def test_the_beat_prunes_daily_only_with_retention_days(settings: Settings) -> None:
    from worker.celery_app import create_celery

    without = create_celery(settings)
    without.loader.import_default_modules()  # registers the tasks, as a worker does
    assert "prune" not in without.conf.beat_schedule
    with open_session(settings) as s:
        add_job(s, status="succeeded", at=OLD)
        s.commit()
    assert without.tasks["hookline.prune"].apply().get() == {"skipped": "HOOKLINE_RETENTION_DAYS is not set"}
    with_retention = create_celery(settings.with_overrides(retention_days=30))
    with_retention.loader.import_default_modules()
    assert with_retention.conf.beat_schedule["prune"]["task"] == "hookline.prune"
    report = with_retention.tasks["hookline.prune"].apply().get()
    assert report["rows"]["jobs"] == 1 and report["dry_run"] is False
