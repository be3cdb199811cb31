"""The receiver's lean path: the common callback (the job's own task, a forward transition) applied in one
transaction of Core statements, without loading the job.

1. One compare-and-set UPDATE moves the job (RETURNING where the database has it). Its WHERE clause carries every
   check ``record_task_update`` and ``match_task`` would make for this case: a status the target may follow, the
   job's own task id, an attempt that was made, an operation whose output this snapshot completes.
2. The clips: a terminal report replaces them (one DELETE of the clips it does not name, one upsert); an
   intermediate one merges (one upsert keeping the fields ``KEPT_UNTIL_TERMINAL`` when the snapshot leaves them out).
3. The callback record and, for a terminal status, the outbox rows of its follow-ups (``owed_follow_ups``).

Anything else (an unknown job, a duplicate, a regression, an orphan's task id, a STREAMING refresh, a lyrics job, a
refused snapshot) makes the UPDATE match nothing: ``apply_lean`` rolls back and returns None, and the caller takes
the full path (``shared.jobs.updates.record_task_update``), which judges and records it. Both paths write the same
rows for the same callback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Connection, DateTime, Table, TextClause, bindparam, case, delete, func, insert, text, update
from sqlalchemy.dialects import postgresql, sqlite

from shared.cometapi import REGISTRY, Finish
from shared.cometapi.answers import clip_rows
from shared.cometapi.operation_record import CLIPS
from shared.cometapi.operations import LYRICS
from shared.config import Settings
from shared.db import get_engine
from shared.jobs.clip_fields import TASK_ID_LENGTH, URL_FIELDS, clean_text, clip_id_problem, id_problem
from shared.jobs.finishing import follow_ups_grace, owed_follow_ups
from shared.jobs.updates import KEPT_UNTIL_TERMINAL, reported_clips
from shared.models import CallbackRecord, Clip, Job, OutboxMessage, utcnow
from shared.outbox import Row, follow_up_values
from shared.states import TRANSITIONS, CallbackVerdict, JobStatus, from_upstream

JOBS: Table = cast(Table, Job.__table__)
CLIPS_TABLE: Table = cast(Table, Clip.__table__)
CALLBACKS: Table = cast(Table, CallbackRecord.__table__)
OUTBOX: Table = cast(Table, OutboxMessage.__table__)
_UPSERT: dict[str, Any] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


@dataclass(frozen=True)
class LeanOutcome:
    verdict: CallbackVerdict
    reason: str
    status: JobStatus
    follow_ups: list[Row] = field(default_factory=list)  # committed outbox rows, for the relay


@lru_cache(maxsize=1)
def _operations() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(operations the lean path may apply at all: every registered one except those keeping lyrics in their
    result; of those, the ones yielding clips; the ones expecting callbacks)."""
    lean = frozenset(name for name, op in REGISTRY.items() if op.yields != LYRICS)
    clips = frozenset(name for name in lean if REGISTRY[name].yields == CLIPS)
    callbacks = frozenset(name for name in lean if REGISTRY[name].finish is Finish.CALLBACK)
    return lean, clips, callbacks


def _eligible(target: JobStatus, with_clips: bool) -> frozenset[str]:
    """The operations for which ``task`` may move a job to ``target`` (``_is_complete_enough``): a COMPLETE
    without clips completes none of the clip-yielding ones."""
    lean, yielding_clips, _ = _operations()
    if target is JobStatus.SUCCEEDED and not with_clips:
        return lean - yielding_clips
    return lean


def _in(column: str, values: frozenset[str]) -> TextClause:
    """``column IN (...)`` with the values written into the SQL: they are fixed words (statuses, operation names),
    so the statement is built and compiled once instead of expanding a list parameter per execution."""
    assert all(v.replace("_", "").replace("-", "").isalnum() for v in values), values
    return text(f"{column} IN ({', '.join(repr(v) for v in sorted(values)) or 'NULL'})")


@lru_cache(maxsize=64)
def _cas(target: JobStatus, with_clips: bool, polling_mode: bool) -> Any:
    """The compare-and-set UPDATE for ``target``, built once; its SET values come as execution parameters."""
    stmt = update(JOBS).where(
        JOBS.c.id == bindparam("b_id"), _in("jobs.status", frozenset(s.value for s in TRANSITIONS[target])),
        JOBS.c.upstream_task_id == bindparam("b_task"), JOBS.c.attempts >= bindparam("b_attempt"),
        _in("jobs.operation", _eligible(target, with_clips)))
    if not target.terminal and not polling_mode:  # next_check_after_news, per operation, in SQL
        _, _, callbacks = _operations()
        grace, interval = bindparam("b_grace", type_=DateTime()), bindparam("b_interval", type_=DateTime())
        stmt = stmt.values(next_check_at=case((_in("jobs.operation", callbacks), grace), else_=interval))
    return stmt.returning(JOBS.c.id, JOBS.c.pipeline_id, JOBS.c.owner)  # what its follow-ups depend on


def _values(settings: Settings, target: JobStatus, task: dict[str, Any]) -> dict[str, Any]:
    now = utcnow()
    values: dict[str, Any] = {"status": target.value, "updated_at": now}
    progress = clean_text(task.get("progress"), 16)
    if progress is not None:
        values["progress"] = progress
    if target.terminal:
        values["finished_at"] = now
        values["next_check_at"] = now + follow_ups_grace(settings)  # the follow-ups' deadline (add_finished)
    elif settings.polling_mode:
        values["next_check_at"] = now + timedelta(seconds=settings.reconcile_interval)
    else:
        values["b_grace"] = now + timedelta(seconds=settings.callback_grace)
        values["b_interval"] = now + timedelta(seconds=settings.reconcile_interval)
    if target is JobStatus.FAILED:
        values["error"] = (clean_text(str(task.get("fail_reason") or "")) or "upstream reported FAILED")[:2000]
    return values


@lru_cache(maxsize=8)
def _clip_statements(dialect: str, replace: bool) -> tuple[Any, Any]:
    """(the DELETE of a job's clips a terminal report does not name, the upsert of the reported ones), built once."""
    stale = delete(CLIPS_TABLE).where(CLIPS_TABLE.c.job_id == bindparam("b_job"),
                                      CLIPS_TABLE.c.clip_id.not_in(bindparam("b_keep", expanding=True)))
    stmt = _UPSERT[dialect](CLIPS_TABLE)
    columns = ["title", "status", *URL_FIELDS, "duration", "model_name", "meta", "position"]
    kept = {key: func.coalesce(stmt.excluded[key], CLIPS_TABLE.c[key]) if not replace and key in KEPT_UNTIL_TERMINAL
            else stmt.excluded[key] for key in columns}
    return stale, stmt.on_conflict_do_update(index_elements=["job_id", "clip_id"], set_=kept)


def _store_clips(conn: Connection, job_id: str, clips: list[dict[str, Any]], *, replace: bool) -> None:
    """``store_clips`` in two statements: a terminal report replaces, an intermediate one merges."""
    reported = reported_clips(clips)
    stale, upsert = _clip_statements(conn.dialect.name, replace)
    if replace:
        conn.execute(stale, {"b_job": job_id, "b_keep": list(reported) or [""]})
    if reported:
        conn.execute(upsert, [{"job_id": job_id, "clip_id": clip_id, "position": position, **values}
                              for position, (clip_id, values) in enumerate(reported.items())])


_INSERT_CALLBACK = insert(CALLBACKS)
_INSERT_OUTBOX = insert(OUTBOX)


def apply_lean(settings: Settings, job_id: str, attempt: int, task: dict[str, Any],
               remote_addr: str) -> LeanOutcome | None:
    """Apply ``task`` to the job in one committed transaction of Core statements, or None (nothing written) when
    this callback is not the common case and needs the full path."""
    status = task.get("status")
    target = from_upstream(status if isinstance(status, str) else None)
    task_id = task.get("task_id")
    if target is None or not isinstance(task_id, str) or not task_id \
            or id_problem("task id", task_id, TASK_ID_LENGTH) is not None:  # unstorable: the full path refuses it
        return None
    clips = clip_rows(task)
    if clip_id_problem(clips) is not None:
        return None
    engine = get_engine(settings)
    if engine.dialect.name not in _UPSERT or not engine.dialect.update_returning:
        return None
    cas = _cas(target, bool(clips), settings.polling_mode)
    params = {"b_id": job_id, "b_task": task_id, "b_attempt": attempt, **_values(settings, target, task)}
    with engine.connect() as conn:
        moved = conn.execute(cas, params).first()
        if moved is None:
            conn.rollback()
            return None
        _store_clips(conn, job_id, clips, replace=target.terminal)
        reason = f"-> {target.value}"
        conn.execute(_INSERT_CALLBACK, {
            "job_id": job_id, "attempt_no": attempt, "verdict": CallbackVerdict.APPLIED.value, "reason": reason,
            "upstream_status": str(status)[:16], "http_status": 200, "remote_addr": remote_addr,
            "received_at": utcnow()})
        follow_ups: list[Row] = []
        if target.terminal:
            owed = owed_follow_ups(settings, conn, job_id, moved.pipeline_id, moved.owner)
            rows = [follow_up_values(name, args) for name, args in owed]
            conn.execute(_INSERT_OUTBOX, rows)
            follow_ups = [(row["id"], row["task"], row["args"]) for row in rows]
        conn.commit()
    return LeanOutcome(CallbackVerdict.APPLIED, reason, target, follow_ups)
