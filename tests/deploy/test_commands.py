"""Every command in the deploy files is one hookline has, each packaging runs every role, and the checker itself
rejects what it should."""

from __future__ import annotations

import shlex

import pytest

from tests.deploy.command_checks import check_command, import_probe
from tests.deploy.deploy_commands import Command, all_commands, role_of

COMMANDS = all_commands()


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.where)
def test_command_is_one_hookline_has(command: Command) -> None:
    problems = check_command(command)
    assert not problems, f"{command}\n  " + "\n  ".join(problems)


def test_commands_found_in_every_packaging() -> None:
    roles: dict[str, set[str]] = {}
    for command in COMMANDS:
        roles.setdefault(command.kind, set()).add(role_of(command.argv))
    for kind in ("compose", "k8s", "systemd", "procfile"):
        assert {"receiver", "worker", "beat", "migrate"} <= roles.get(kind, set()), (
            f"{kind}: expected receiver, worker, beat and migrate commands, found {sorted(roles.get(kind, []))}")
    assert roles.get("dockerfile") == {"receiver"}, "the Dockerfile's CMD should run the receiver under gunicorn"


def test_receiver_serves_healthz() -> None:
    found, error = import_probe("webhook.wsgi:app", "wsgi")
    assert found is not None, error
    assert "/healthz" in found["rules"], f"webhook.wsgi:app has no /healthz route: {found['rules']}"


# The checker itself must reject what it should, or test_command_is_one_hookline_has proves nothing.
REJECTED = [
    (["hookline", "wrker"], "no subcommand 'wrker'"),
    (["hookline", "worker", "--processes", "4"], "no option --processes"),
    (["hookline", "db"], "is a group"),
    (["hookline", "db", "migrate"], "no subcommand 'migrate'"),
    (["gunicorn", "-b", "0.0.0.0:8000", "webhook.wsgi:nope"], "does not import"),
    (["gunicorn", "-b", "0.0.0.0:8000", "--access-logfile", "-", "webhook.wsgi:app"], "capability token"),
    (["celery", "-A", "worker.nope", "worker"], "does not import"),
    (["celery", "-A", "worker.app", "purge"], "not one hookline deploys"),
    (["celery", "-A", "worker.app", "worker", "--concurency", "2"], "no option --concurency"),
    (["celery", "-A", "worker.app", "flower", "--broker=redis://x:6379/0"], "ignored by Flower 2"),
    (["python", "-m", "http.server"], "not a command hookline has"),
]


@pytest.mark.parametrize(("argv", "complaint"), REJECTED, ids=[shlex.join(argv) for argv, _ in REJECTED])
def test_checker_rejects(argv: list[str], complaint: str) -> None:
    problems = check_command(Command("example", 1, tuple(argv), "example"))
    assert any(complaint in p for p in problems), problems
