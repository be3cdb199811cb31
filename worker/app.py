"""Entry module for ``celery -A worker.app``."""
from worker.celery_app import create_celery

app = create_celery()
