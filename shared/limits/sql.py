"""The global upstream limits in the database (the embedded default, no Redis), on ``rate_buckets`` rows.

Rows (``name``):
- ``bucket:<kind>``: one token bucket; the columns are ``BucketState``'s.
- ``inflight``: the in-flight counter; its ``tokens`` column holds the count.
- ``inflight:<job_id>``: one row per job holding a slot; ``updated_at`` is its start time.

Bucket: read the row, compute the next state in Python (``shared.limits.base.take/penalize``), then one
compare-and-set ``UPDATE … WHERE name=? AND tokens=? AND rate=? AND updated_at=? AND penalty_until=?``. If
another process changed the row in between, no row matches and we read again. A denied ``try_acquire`` writes
nothing (the refill is a function of time), so hammering callers mostly cost a read.

In flight: one transaction inserts the job's row (``ON CONFLICT DO NOTHING``: a job already counted stays
counted once) and then ``UPDATE … SET tokens = tokens + 1 WHERE name='inflight' AND tokens < cap``; no row
updated means the cap is reached and the insert is rolled back. On PostgreSQL the counter row's lock serialises
the increments and the WHERE is re-checked after the lock (no overshoot under READ COMMITTED); on SQLite each
transaction starts with a write, so it holds the write lock from its first statement. A ``COUNT(*)`` of the job
rows followed by an insert would race on PostgreSQL, hence the counter; finish and sweep delete job rows and
decrement the counter in the same transaction, so the two never disagree.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Connection, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from shared.db import engine_for
from shared.errors import ConfigError
from shared.limits.base import BucketPolicy, BucketState, Clock, UpstreamLimiter, penalize, take
from shared.models import RateBucket

log = logging.getLogger("hookline.limits")

buckets = cast(Table, RateBucket.__table__)
COUNTER = "inflight"
MEMBER_PREFIX = "inflight:"
NAME_MAX = 64  # rate_buckets.name is String(64)
CAS_TRIES = 25
CONTENDED_WAIT = 0.05  # every compare-and-set lost: others are taking tokens right now; come back shortly

Step = Callable[[BucketState, float], tuple[float, "BucketState | None"]]


def member_name(job_id: str) -> str:
    """``inflight:<job_id>``; an id too long for the column is replaced by its SHA-256 (still one row per job)."""
    name = MEMBER_PREFIX + job_id
    if len(name) <= NAME_MAX:
        return name
    return MEMBER_PREFIX + "#" + hashlib.sha256(job_id.encode()).hexdigest()[: NAME_MAX - len(MEMBER_PREFIX) - 1]


def insert_if_missing(conn: Connection, values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT (name) DO NOTHING RETURNING name; True when this call inserted the row.

    RETURNING, not rowcount: SQLAlchemy does not keep an INSERT's rowcount on psycopg (it reads -1).
    """
    dialect = conn.dialect.name
    stmt: sqlite.Insert | postgresql.Insert
    if dialect == "sqlite":
        stmt = sqlite.insert(buckets).values(**values).on_conflict_do_nothing(index_elements=["name"])
    elif dialect == "postgresql":
        stmt = postgresql.insert(buckets).values(**values).on_conflict_do_nothing(index_elements=["name"])
    else:
        raise ConfigError("HOOKLINE_DATABASE_URL",
                          f"the upstream limiter supports SQLite and PostgreSQL, not {dialect}")
    return conn.execute(stmt.returning(buckets.c.name)).first() is not None


def _row(name: str, state: BucketState) -> dict[str, Any]:
    return {"name": name, "tokens": state.tokens, "rate": state.rate, "updated_at": state.updated_at,
            "penalty_until": state.penalty_until}


class SqlLimiter(UpstreamLimiter):
    def __init__(
        self, database_url: str, policy: BucketPolicy, cap: int, stale_after_s: float, *, clock: Clock | None = None
    ) -> None:
        self.policy = policy
        self.cap = cap
        self.stale_after_s = stale_after_s
        self._clock = clock or time.time
        self._engine = engine_for(database_url)
        self._counter_ready = False

    # -- token bucket ---------------------------------------------------------------------------------------
    def _compare_and_set(self, kind: str, step: Step) -> float | None:
        """Apply ``step`` to the bucket atomically; its wait, or None when every compare-and-set was lost."""
        name = "bucket:" + kind
        for _ in range(CAS_TRIES):
            now = self._clock()
            with self._engine.connect() as conn:
                row = conn.execute(
                    select(buckets.c.tokens, buckets.c.rate, buckets.c.updated_at, buckets.c.penalty_until)
                    .where(buckets.c.name == name)
                ).first()
                if row is None:
                    insert_if_missing(conn, _row(name, self.policy.fresh(now)))
                    conn.commit()
                    continue
                seen = BucketState(*row)
                wait, new = step(seen, now)
                if new is None or new == seen:
                    return wait
                matched = conn.execute(
                    update(buckets)
                    .where(buckets.c.name == name, buckets.c.tokens == seen.tokens, buckets.c.rate == seen.rate,
                           buckets.c.updated_at == seen.updated_at, buckets.c.penalty_until == seen.penalty_until)
                    .values(tokens=new.tokens, rate=new.rate, updated_at=new.updated_at,
                            penalty_until=new.penalty_until)
                ).rowcount
                conn.commit()
                if matched == 1:
                    return wait
        return None

    def try_acquire(self, kind: str = "call") -> float:
        wait = self._compare_and_set(kind, lambda state, now: take(state, self.policy, now))
        return CONTENDED_WAIT if wait is None else wait

    def try_acquire_in(self, connection: Any, kind: str = "call") -> float:
        name, now = "bucket:" + kind, self._clock()
        columns = (buckets.c.tokens, buckets.c.rate, buckets.c.updated_at, buckets.c.penalty_until)
        row = connection.execute(select(*columns).where(buckets.c.name == name)).first()
        if row is None:
            insert_if_missing(connection, _row(name, self.policy.fresh(now)))
            row = connection.execute(select(*columns).where(buckets.c.name == name)).first()
        seen = BucketState(*row)
        wait, new = take(seen, self.policy, now)
        if new is None or new == seen:
            return wait
        matched = connection.execute(
            update(buckets)
            .where(buckets.c.name == name, buckets.c.tokens == seen.tokens, buckets.c.rate == seen.rate,
                   buckets.c.updated_at == seen.updated_at, buckets.c.penalty_until == seen.penalty_until)
            .values(tokens=new.tokens, rate=new.rate, updated_at=new.updated_at, penalty_until=new.penalty_until)
        ).rowcount
        return wait if matched == 1 else CONTENDED_WAIT

    def penalize(self, retry_after: float | None, kind: str = "call") -> None:
        def step(state: BucketState, now: float) -> tuple[float, BucketState | None]:
            return 0.0, penalize(state, self.policy, now, retry_after)

        if self._compare_and_set(kind, step) is None:
            log.warning("could not record a 429 penalty on bucket %s: %d compare-and-sets lost", kind, CAS_TRIES)

    # -- in-flight cap --------------------------------------------------------------------------------------
    def _ensure_counter(self) -> None:
        if not self._counter_ready:
            with self._engine.connect() as conn:
                insert_if_missing(conn, _row(COUNTER, BucketState(0.0, 0.0, self._clock(), 0.0)))
                conn.commit()
            self._counter_ready = True

    def _start(self, job_id: str) -> bool:
        self._ensure_counter()
        member = _row(member_name(job_id), BucketState(1.0, 0.0, self._clock(), 0.0))
        with self._engine.connect() as conn:
            if not insert_if_missing(conn, member):
                return True  # already counted
            counted = conn.execute(
                update(buckets).where(buckets.c.name == COUNTER, buckets.c.tokens < self.cap)
                .values(tokens=buckets.c.tokens + 1)
            ).rowcount
            if counted == 1:
                conn.commit()
                return True
            conn.rollback()
            return False

    def try_start_task(self, job_id: str) -> bool:
        if self._start(job_id):
            return True
        return self.sweep_stale(self.stale_after_s) > 0 and self._start(job_id)

    def _remove_members(self, condition: Any) -> int:
        with self._engine.connect() as conn:
            removed = conn.execute(delete(buckets).where(condition)).rowcount
            if removed:
                conn.execute(
                    update(buckets).where(buckets.c.name == COUNTER).values(tokens=buckets.c.tokens - removed)
                )
            conn.commit()
            return removed

    def finish_task(self, job_id: str) -> None:
        self._remove_members(buckets.c.name == member_name(job_id))

    def sweep_stale(self, max_age_s: float) -> int:
        cutoff = self._clock() - max_age_s
        # The table holds one row per job in flight plus a few buckets: a prefix scan is cheap.
        return self._remove_members(buckets.c.name.like(MEMBER_PREFIX + "%") & (buckets.c.updated_at < cutoff))

    def in_flight(self) -> int:
        with self._engine.connect() as conn:
            count = conn.execute(select(buckets.c.tokens).where(buckets.c.name == COUNTER)).scalar()
        return round(count or 0)
