"""The Procfile (Heroku-style platforms): web, worker, beat, and a release step that migrates."""

from __future__ import annotations

import shlex

from tests.deploy.deploy_commands import role_of
from tests.deploy.deploy_files import procfile_entries


def test_procfile() -> None:
    entries = procfile_entries()
    assert set(entries) == {"web", "worker", "beat", "release"}, sorted(entries)
    roles = {name: role_of(shlex.split(command)) for name, (command, _) in entries.items()}
    assert roles == {"web": "receiver", "worker": "worker", "beat": "beat", "release": "migrate"}, roles
