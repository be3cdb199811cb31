"""Accessors for what create_app put on the app, so views never rebuild settings or engines."""

from __future__ import annotations

from flask import current_app
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.db import open_session


def settings() -> Settings:
    return current_app.extensions["hookline.settings"]


def db_session() -> Session:
    """A session for this request's unit of work; the view commits (the rule of ``shared.db.open_session``)."""
    return open_session(settings())
