"""deploy/ has the files each packaging needs, and every YAML file in it parses."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.deploy.deploy_files import DEPLOY, K8S, rel, yaml_files


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: p.relative_to(DEPLOY).as_posix())
def test_yaml_parses(path: Path) -> None:
    docs = list(yaml.safe_load_all(path.read_text()))
    assert [d for d in docs if d is not None], f"{rel(path)} is empty"


def test_the_expected_files_exist() -> None:
    expected = ["Dockerfile", "Dockerfile.dockerignore", "docker-compose.yml", ".env.example", "Procfile",
                "README.md", "systemd/hookline-receiver.service", "systemd/hookline-worker@.service",
                "systemd/hookline-beat.service"]
    missing = [name for name in expected if not (DEPLOY / name).is_file()]
    assert not missing, f"missing in deploy/: {missing}"
    assert len(list(K8S.glob("*.yaml"))) >= 5
