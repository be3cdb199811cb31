"""Accessors for what create_app put on the app, so views never rebuild settings or engines."""

from __future__ import annotations

from flask import current_app
from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings


def settings() -> Settings:
    return current_app.extensions["hookline.settings"]


def db_session() -> Session:
    factory: sessionmaker[Session] = current_app.extensions["hookline.sessions"]
    return factory()
