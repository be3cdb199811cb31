"""Offline simulator of the CometAPI Suno and Udio music API: point a client's base URL at it instead of the real one.

Every operation of upstream.md is served with the upstream's shapes; README.md lists the routes, the export
and Udio answers, and the audio rules (every clip's MP3/WAV/MIDI agree with its metadata.duration).

Public surface: ``create_app(config)``, ``run_sandbox(host, port, config)``, plus for tests
``start_background_sandbox(config)`` and ``shutdown_sandbox(app)``. Config keys are in ``DEFAULT_CONFIG``;
fault knobs in ``FAULT_DEFAULTS``. Sandbox-only controls live under ``/_sandbox/``.
"""

from __future__ import annotations

from .app_factory import DEFAULT_CONFIG, create_app
from .fault_plan import FAULT_DEFAULTS
from .serving import BackgroundSandbox, run_sandbox, shutdown_sandbox, start_background_sandbox

__all__ = [
    "DEFAULT_CONFIG",
    "FAULT_DEFAULTS",
    "BackgroundSandbox",
    "create_app",
    "run_sandbox",
    "shutdown_sandbox",
    "start_background_sandbox",
]
