"""The image: slim Python, a non-root user, the extras it installs exist, and the build context is an allow-list."""

from __future__ import annotations

import re
import tomllib

from tests.deploy.deploy_commands import dockerfile_commands
from tests.deploy.deploy_files import DEPLOY, DOCKERFILE, ROOT, parse_dockerfile, pattern_lines


def test_dockerfile() -> None:
    instructions = parse_dockerfile(DOCKERFILE)
    stages = [args for word, args, _ in instructions if word == "FROM"]
    assert stages and all(s.split()[0] == "python:3.11-slim" for s in stages), stages
    final = instructions[max(i for i, (w, _, _) in enumerate(instructions) if w == "FROM"):]
    users = [args for word, args, _ in final if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image must run as a non-root user"
    runs = " ".join(args for word, args, _ in instructions if word == "RUN")
    assert "pip install" in runs
    (command,) = list(dockerfile_commands())
    assert list(command.argv) == ["gunicorn", "-b", "0.0.0.0:8000", "-w", "4", "webhook.wsgi:app"]


def test_dockerfile_extras_exist_in_pyproject() -> None:
    """`pip install .[x]` only warns about an unknown extra: check that every extra the image asks for exists."""
    runs = " ".join(args for word, args, _ in parse_dockerfile(DOCKERFILE) if word == "RUN")
    extras = {e.strip() for group in re.findall(r"\.\[([^\]]+)\]", runs) for e in group.split(",")}
    assert "postgres" in extras, "the image needs psycopg: pip install .[postgres]"
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"].get("optional-dependencies", {})
    missing = sorted(extras - set(declared))
    assert not missing, (f"deploy/Dockerfile installs extras {missing} that pyproject.toml does not declare; add e.g. "
                         '[project.optional-dependencies] postgres = ["psycopg[binary]>=3.1"]')


def test_dockerignore_keeps_local_state_out() -> None:
    patterns = pattern_lines(DEPLOY / "Dockerfile.dockerignore")
    assert patterns[0] == "*", "allow-list: start by excluding everything"
    allowed = {p[1:] for p in patterns if p.startswith("!")}
    assert {"pyproject.toml", "shared", "worker", "webhook"} <= allowed, allowed
    assert not allowed & {".env", "var", ".venv", "deploy"}, allowed
