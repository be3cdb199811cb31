"""The global upstream token bucket in the database (the embedded default, no Redis), on ``rate_buckets`` rows.

Rows (``name``): ``bucket:<kind>``, one token bucket; the columns are ``BucketState``'s. (Databases that ran the
old in-flight semaphore may still hold ``inflight`` / ``inflight:<job_id>`` rows: nothing reads them.)

Bucket: read the row, compute the next state in Python (``shared.limits.base.take/penalize``), then one
compare-and-set ``UPDATE … WHERE name=? AND tokens=? AND rate=? AND updated_at=? AND penalty_until=?``. If
another process changed the row in between, no row matches and we read again. A denied ``try_acquire`` writes
nothing (the refill is a function of time), so hammering callers mostly cost a read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Connection, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from shared.db import engine_for
from shared.errors import ConfigError
from shared.limits.base import BucketPolicy, BucketState, Clock, UpstreamLimiter, penalize, take
from shared.models import RateBucket

log = logging.getLogger("hookline.limits")

buckets = cast(Table, RateBucket.__table__)
CAS_TRIES = 25
CONTENDED_WAIT = 0.05  # every compare-and-set lost: others are taking tokens right now; come back shortly

Step = Callable[[BucketState, float], tuple[float, "BucketState | None"]]


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


def _move(conn: Any, name: str, seen: BucketState, new: BucketState) -> bool:
    """Compare-and-set the bucket row ``name`` from ``seen`` to ``new`` (the caller commits); True when it moved."""
    return conn.execute(
        update(buckets)
        .where(buckets.c.name == name, buckets.c.tokens == seen.tokens, buckets.c.rate == seen.rate,
               buckets.c.updated_at == seen.updated_at, buckets.c.penalty_until == seen.penalty_until)
        .values(tokens=new.tokens, rate=new.rate, updated_at=new.updated_at, penalty_until=new.penalty_until)
    ).rowcount == 1


class SqlLimiter(UpstreamLimiter):
    def __init__(self, database_url: str, policy: BucketPolicy, *, clock: Clock | None = None) -> None:
        self.policy = policy
        self._clock = clock or time.time
        self._engine = engine_for(database_url)

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
                matched = _move(conn, name, seen, new)
                conn.commit()
                if matched:
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
        return wait if _move(connection, name, seen, new) else CONTENDED_WAIT

    def penalize(self, retry_after: float | None, kind: str = "call") -> None:
        def step(state: BucketState, now: float) -> tuple[float, BucketState | None]:
            return 0.0, penalize(state, self.policy, now, retry_after)

        if self._compare_and_set(kind, step) is None:
            log.warning("could not record a 429 penalty on bucket %s: %d compare-and-sets lost", kind, CAS_TRIES)
