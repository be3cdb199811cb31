"""The work: jobs, the upstream attempts (the ledger), callbacks received, clips, artifacts, pipelines and steps.

The status columns hold the words of ``shared.states`` (JobStatus, PipelineStatus, StepStatus). The defaults are
written as words because ``shared.states`` imports these models for its compare-and-set update.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.models.base import Base, new_id, utcnow

LOCAL_OWNER = "local"  # the owner of work with no API key (the local CLI, the admin token, the open API)


class Job(Base):
    """One unit of upstream work, as the producer asked for it."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    operation: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # a shared.states.JobStatus
    upstream_task_id: Mapped[str | None] = mapped_column(String(128), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[str | None] = mapped_column(String(16))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # What the job was accepted with but warned about (an unknown mv sent as given, undocumented fields).
    warnings: Mapped[list[str] | None] = mapped_column(JSON)
    # When the reconciler should look at this job next (overdue callback, stuck queue): one indexed column.
    next_check_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    # Where the job came from and who is told when it ends.
    pipeline_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("pipelines.id"), index=True)
    step_name: Mapped[str | None] = mapped_column(String(64))
    fan_index: Mapped[int | None] = mapped_column(Integer)
    bulk_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("bulk_batches.id"), index=True)
    api_key_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("api_keys.id"), index=True)
    callback_url: Mapped[str | None] = mapped_column(Text)
    # GET exports and Udio are polled: how many polls so far (for the growing, capped countdown).
    polls: Mapped[int] = mapped_column(Integer, default=0)
    # Admission (shared/admission/): how urgent (interactive 200, pipeline 100, bulk 0), who it counts against
    # (the API key id, or "local"), in which queue (its bulk batch or pipeline; "" for single jobs). A queued job
    # with no admitted_at waits as this row alone (no message); admitted and not terminal: it holds a slot.
    priority: Mapped[int] = mapped_column(Integer, default=200, server_default="200")
    owner: Mapped[str] = mapped_column(String(32), default=LOCAL_OWNER, server_default=LOCAL_OWNER)
    queue_group: Mapped[str] = mapped_column(String(32), default="", server_default=text("''"))
    admitted_at: Mapped[datetime | None] = mapped_column()

    clips: Mapped[list[Clip]] = relationship(back_populates="job", order_by="Clip.position",
                                             cascade="all, delete-orphan")
    artifacts: Mapped[list[Artifact]] = relationship(order_by="Artifact.id", viewonly=True)

    __table_args__ = (
        Index("ix_jobs_status_next_check", "status", "next_check_at"),
        Index("ix_jobs_admission", "status", "admitted_at", "owner", "queue_group", "priority", "created_at"),
    )


class Attempt(Base):
    """One call we made upstream, paid or not: the ledger. Never holds a secret."""

    __tablename__ = "upstream_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("jobs.id"), index=True)
    attempt_no: Mapped[int | None] = mapped_column(Integer)
    operation: Mapped[str] = mapped_column(String(32))
    endpoint: Mapped[str] = mapped_column(String(32))
    request_summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    http_status: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16), default="pending")  # a shared.states.AttemptOutcome
    upstream_task_id: Mapped[str | None] = mapped_column(String(128))
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    # A resubmit after an ambiguous attempt may have been charged twice: recorded, never hidden.
    possible_duplicate: Mapped[bool] = mapped_column(Boolean, default=False)
    api_key_id: Mapped[str | None] = mapped_column(String(32), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column()


class CallbackRecord(Base):
    """One inbound callback, accepted or not. The token is never stored."""

    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Not a foreign key: callbacks for unknown jobs are recorded too.
    job_id: Mapped[str | None] = mapped_column(String(64), index=True)
    attempt_no: Mapped[int | None] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(16))  # a shared.states.CallbackVerdict, never INVALID
    reason: Mapped[str | None] = mapped_column(Text)
    upstream_status: Mapped[str | None] = mapped_column(String(16))
    http_status: Mapped[int] = mapped_column(Integer)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Clip(Base):
    """One clip a music task produced."""

    __tablename__ = "clips"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32), ForeignKey("jobs.id"))
    clip_id: Mapped[str] = mapped_column(String(128), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(16))
    audio_url: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(Text)
    image_large_url: Mapped[str | None] = mapped_column(Text)
    video_url: Mapped[str | None] = mapped_column(Text)
    duration: Mapped[float | None] = mapped_column(Float)
    model_name: Mapped[str | None] = mapped_column(String(64))
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    job: Mapped[Job] = relationship(back_populates="clips")

    __table_args__ = (UniqueConstraint("job_id", "clip_id", name="uq_clips_job_clip"),)


class Pipeline(Base):
    """A DAG of steps from a spec; each step becomes one job (or one per clip with ``each``)."""

    __tablename__ = "pipelines"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str | None] = mapped_column(String(128))
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="running")  # a shared.states.PipelineStatus
    error: Mapped[str | None] = mapped_column(Text)
    api_key_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("api_keys.id"), index=True)
    callback_url: Mapped[str | None] = mapped_column(Text)
    bulk_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("bulk_batches.id"), index=True)
    priority: Mapped[int | None] = mapped_column(Integer)  # its jobs' admission priority; None: the default
    # When the reconciler should next check for ready-but-undispatched steps.
    next_check_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()

    steps: Mapped[list[PipelineStep]] = relationship(back_populates="pipeline", order_by="PipelineStep.position",
                                                     cascade="all, delete-orphan")

    __table_args__ = (Index("ix_pipelines_status_next_check", "status", "next_check_at"),)


class PipelineStep(Base):
    """One named step of a pipeline: pending -> dispatched -> succeeded | failed | skipped | canceled."""

    __tablename__ = "pipeline_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pipeline_id: Mapped[str] = mapped_column(String(32), ForeignKey("pipelines.id"))
    name: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)
    operation: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # a shared.states.StepStatus
    reason: Mapped[str | None] = mapped_column(Text)
    # Bumped by `pipeline retry`: jobs of older generations no longer count for this step.
    generation: Mapped[int] = mapped_column(Integer, default=0)
    dispatched_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    pipeline: Mapped[Pipeline] = relationship(back_populates="steps")

    __table_args__ = (UniqueConstraint("pipeline_id", "name", name="uq_steps_pipeline_name"),)


class Artifact(Base):
    """A file a job produced, an object in the artifact store under ``storage_key`` (or refused, and why).

    ``path`` is the file on the host that stored it, for the file store only (what older versions served from)."""

    __tablename__ = "artifacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32), ForeignKey("jobs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # audio | image | video | wav | midi | timing | json
    clip_id: Mapped[str | None] = mapped_column(String(128))
    source_url: Mapped[str] = mapped_column(Text)
    path: Mapped[str | None] = mapped_column(Text)
    storage_key: Mapped[str | None] = mapped_column(Text)  # "<job_id>/<file name>" in HOOKLINE_ARTIFACT_STORE
    size: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    content_type: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | stored | refused | failed
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("job_id", "source_url", name="uq_artifacts_job_source"),)


class CostDay(Base):
    """The ledger's totals of one UTC day, operation and API key, for attempts ``hookline prune`` removed: the
    cost reports add these to the attempts still present, so pruning never changes a total."""

    __tablename__ = "cost_days"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD (UTC)
    operation: Mapped[str] = mapped_column(String(32), primary_key=True)
    api_key_id: Mapped[str] = mapped_column(String(32), primary_key=True, default="")  # "" for no key
    calls: Mapped[int] = mapped_column(Integer, default=0)  # charged attempts (as `hookline costs` counts them)
    paid_calls: Mapped[int] = mapped_column(Integer, default=0)  # those with a price (as /v1/costs counts them)
    usd: Mapped[float] = mapped_column(Float, default=0.0)
    possible_duplicate_usd: Mapped[float] = mapped_column(Float, default=0.0)
