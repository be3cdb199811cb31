"""Workers and beat have a liveness check in compose and k8s, and it runs `hookline health`, a real command whose
options parse (it exits 1 for a missing heartbeat, not 2 for a usage error)."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from shared.cli.main import main

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_compose_checks_worker_and_beat_health() -> None:
    services = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]
    for role, flag in (("worker", "--worker"), ("beat", "--beat")):
        test = services[role]["healthcheck"]["test"]
        assert test[:4] == ["CMD", "hookline", "health", flag], role


def test_k8s_liveness_probes_for_worker_and_beat() -> None:
    for role, flag in (("worker", "--worker"), ("beat", "--beat")):
        deployment = yaml.safe_load((DEPLOY / "k8s" / f"{role}.yaml").read_text())
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        command = container["livenessProbe"]["exec"]["command"]
        assert command[:3] == ["hookline", "health", flag], role


def test_the_probe_commands_parse(base_env: dict[str, str], settings: object) -> None:
    for args in (["health", "--worker", "worker"], ["health", "--beat"]):
        result = CliRunner().invoke(main, args, env=base_env)
        assert result.exit_code == 1, (args, result.output)  # no heartbeat in a fresh database: not alive
