"""WSGI entry for gunicorn: ``gunicorn webhook.wsgi:app``."""
from webhook.app import create_app

app = create_app()
