"""The embedded broker: kombu's SQLAlchemy transport over SQLite, tuned so it needs no server.

kombu passes every transport option straight to ``create_engine``; this Channel takes only the engine options,
turns on WAL (so producers and workers do not block each other) and polls quickly.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import sqlalchemy as kombu_sqla
from sqlalchemy import create_engine, event
from sqlalchemy.exc import IntegrityError

from shared.db import apply_sqlite_pragmas, create_private_sqlite_file

ENGINE_OPTIONS = ("connect_args",)


class Channel(kombu_sqla.Channel):
    def _get_or_create(self, queue: Any) -> Any:
        # Two processes declaring the same queue at once: the loser sees the winner's row instead of crashing.
        try:
            return super()._get_or_create(queue)
        except IntegrityError:
            self.session.rollback()
            return super()._get_or_create(queue)

    def _engine_from_config(self) -> Any:
        conninfo = self.connection.client
        options = {k: v for k, v in conninfo.transport_options.items() if k in ENGINE_OPTIONS}
        create_private_sqlite_file(conninfo.hostname)  # the queued messages are readable by their owner only
        engine = create_engine(conninfo.hostname, **options)
        event.listen(engine, "connect", apply_sqlite_pragmas)
        return engine


class Transport(kombu_sqla.Transport):
    Channel = Channel
    polling_interval = 0.05
