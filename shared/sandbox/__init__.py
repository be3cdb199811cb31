"""Offline simulator of the CometAPI Suno and Udio music API: point a client's base URL at it instead of the real one.

Every operation in the API docs is served with the upstream's shapes; README.md lists the routes, the export
and Udio answers, and the audio rules (every clip's MP3/WAV/MIDI agree with its metadata.duration).

Public surface: ``create_app(config)``, ``run_sandbox(host, port, config)``, plus for tests
``start_background_sandbox(config)`` and ``shutdown_sandbox(app)``. Config keys are in ``DEFAULT_CONFIG``;
fault knobs in ``FAULT_DEFAULTS``. Sandbox-only controls live under ``/_sandbox/``.

Where things are, from the app down:

- ``app``: create_app, the request guard and error answers, serving (foreground or a background thread).
- Routes by family: ``submit_routes`` (Suno submits, personas and fetch), ``udio``, ``media_routes`` (exports
  and the CDN), ``admin_routes`` (``/_sandbox/``).
- ``runtime``: what one app owns (store, clock, callbacks, faults, small books), and how a submit is accepted.
- Tasks: ``task_building`` and ``clip_tasks`` make them, ``task_records`` and ``public_shapes`` describe them,
  ``task_store`` keeps them, ``task_clock`` moves them along, ``callback_delivery`` announces them.
- ``validation`` (the envelope, field readers, the sandbox's own tables) and ``music_modes``; ``faults``.
- Audio: ``audio_recipe`` (what a clip plays) and ``media_files`` (MP3, WAV, MIDI, MP4, PNG bytes).
"""

from __future__ import annotations

from .app import DEFAULT_CONFIG, BackgroundSandbox, create_app, run_sandbox, shutdown_sandbox, start_background_sandbox
from .faults import FAULT_DEFAULTS

__all__ = [
    "DEFAULT_CONFIG",
    "FAULT_DEFAULTS",
    "BackgroundSandbox",
    "create_app",
    "run_sandbox",
    "shutdown_sandbox",
    "start_background_sandbox",
]
