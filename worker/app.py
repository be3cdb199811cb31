"""Entry module for ``celery -A worker.app``: refuses to start (one line, no traceback) without a shared hook
secret when the database or the broker is a server."""
from shared.config import load_settings, require_shared_secret
from shared.errors import ConfigError
from worker.celery_app import create_celery

_settings = load_settings()
try:
    require_shared_secret(_settings)
except ConfigError as exc:
    raise SystemExit(f"hookline: {exc}") from None
app = create_celery(_settings)
