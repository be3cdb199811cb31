"""WSGI entry for gunicorn: ``gunicorn webhook.wsgi:app``. Refuses to start on a schema that is behind."""
from shared.config import load_settings, require_shared_secret
from shared.log_format import configure_logging
from shared.schema_check import require_current_schema
from webhook.app import create_app

_settings = load_settings()
configure_logging(_settings)
require_shared_secret(_settings)
require_current_schema(_settings)
app = create_app({"HOOKLINE_SETTINGS": _settings})
