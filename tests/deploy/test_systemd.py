"""The systemd units: receiver, templated worker and beat, reading /etc/hookline/env, never as root."""

from __future__ import annotations

import shlex

from tests.deploy.deploy_commands import role_of
from tests.deploy.deploy_files import SYSTEMD, parse_unit


def test_systemd_units() -> None:
    units = {p.name: {(section, key): value for section, key, value, _ in parse_unit(p)}
             for p in SYSTEMD.glob("*.service")}
    assert {"hookline-receiver.service", "hookline-worker@.service", "hookline-beat.service"} <= set(units)
    problems = []
    for name, keys in units.items():
        if keys.get(("Service", "EnvironmentFile")) != "/etc/hookline/env":
            problems.append(f"{name}: EnvironmentFile=/etc/hookline/env")
        if keys.get(("Service", "User"), "root") == "root":
            problems.append(f"{name}: run as the hookline user, not root")
    exec_start = {name: keys.get(("Service", "ExecStart"), "") for name, keys in units.items()}
    if "%i" not in exec_start.get("hookline-worker@.service", ""):
        problems.append("hookline-worker@.service: use the instance (%i) in the worker's --name")
    if role_of(shlex.split(exec_start.get("hookline-receiver.service", ""))) != "receiver":
        problems.append("hookline-receiver.service: gunicorn webhook.wsgi:app")
    assert not problems, "\n  ".join(["", *problems])
