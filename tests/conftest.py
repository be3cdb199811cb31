"""Shared fixtures: a real redis-server on a free port, the broker parametrisation, and real process stacks.

Tests that need Redis skip locally when redis-server is missing, but FAIL under CI=true.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
import redis
from pluggy import Result

from shared import db
from shared.cli.stack import Stack, free_port, wait_until
from shared.config import Settings, load_settings

pytest_plugins = ["tests.fixtures_pg", "tests.fixtures_s3"]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-output"


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    if IN_CI:
        pytest.fail(f"{name} is required under CI=true but is not installed", pytrace=False)
    pytest.skip(f"{name} not installed")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = require_binary("redis-server")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)

    def answers() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"redis-server did not start (exited with {proc.returncode})", pytrace=False)
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        wait_until(answers, timeout=10, what="redis-server answering PING")
    except TimeoutError:
        proc.kill()
        pytest.fail("redis-server did not start", pytrace=False)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """The test's Redis, flushed before and after."""
    client = redis.Redis.from_url(redis_server)
    client.flushall()
    yield redis_server
    client.flushall()


@pytest.fixture(params=["embedded", "redis"])
def broker_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every test using this runs twice: on the embedded SQLite broker and on a real Redis."""
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url"))
    return f"hookline-sqla+sqlite:///{tmp_path / 'var' / 'broker.db'}"


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    var = tmp_path / "var"
    var.mkdir(exist_ok=True)
    return {
        "HOOKLINE_VAR_DIR": str(var),
        "HOOKLINE_DATABASE_URL": f"sqlite:///{var / 'hookline.db'}",
        "HOOKLINE_HOOK_SECRET": "test-hook-secret-" + os.urandom(8).hex(),
        "HOOKLINE_RECONCILE_INTERVAL": "1",
        "HOOKLINE_LOG_LEVEL": "INFO",
    }


class StackFactory:
    """Builds real stacks for a test and stops them all at the end."""

    def __init__(self, tmp_path: Path, base_env: dict[str, str], request: pytest.FixtureRequest) -> None:
        self.tmp_path = tmp_path
        self.base_env = base_env
        self.request = request
        self.stacks: list[Stack] = []

    def __call__(self, *, broker_url: str | None = None, public: bool = True, env: dict[str, str] | None = None,
                 sandbox_args: list[str] | None = None, workers: int = 1, beat: bool = True) -> tuple[Stack, Settings]:
        full_env = dict(self.base_env)
        if broker_url:
            full_env["HOOKLINE_BROKER_URL"] = broker_url
        receiver_port, sandbox_port = free_port(), free_port()
        if public:
            full_env["HOOKLINE_PUBLIC_URL"] = f"http://127.0.0.1:{receiver_port}"
        full_env["COMETAPI_BASE_URL"] = f"http://127.0.0.1:{sandbox_port}"
        full_env.update(env or {})
        settings = load_settings(full_env)
        db.upgrade(settings)
        stack = Stack(env=full_env, log_dir=self.tmp_path / "logs", sandbox_port=sandbox_port,
                      receiver_port=receiver_port, workers=workers, beat=beat,
                      sandbox_args=sandbox_args or ["--step-seconds", "0.3", "--clip-seconds", "6"])
        self.stacks.append(stack)
        stack.start()
        return stack, settings

    def close(self) -> None:
        for stack in self.stacks:
            stack.stop()
        if self.request.node.rep_call_failed if hasattr(self.request.node, "rep_call_failed") else False:
            self._keep_logs()

    def _keep_logs(self) -> None:
        dest = ARTIFACTS / "logs" / self.request.node.name
        shutil.copytree(self.tmp_path / "logs", dest, dirs_exist_ok=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Result[pytest.TestReport], None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call_failed = report.failed  # type: ignore[attr-defined]


@pytest.fixture
def make_stack(tmp_path: Path, base_env: dict[str, str], request: pytest.FixtureRequest) -> Iterator[StackFactory]:
    factory = StackFactory(tmp_path, base_env, request)
    yield factory
    factory.close()


@pytest.fixture
def settings(base_env: dict[str, str]) -> Settings:
    """Settings for in-process tests on a fresh migrated SQLite database."""
    s = load_settings(base_env)
    db.upgrade(s)
    return s


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The same test on SQLite and on a real PostgreSQL (row locks and compare-and-set behave differently)."""
    if request.param == "sqlite":
        return settings
    on_postgres = settings.with_overrides(database_url=request.getfixturevalue("postgres_url"))
    db.upgrade(on_postgres)
    return on_postgres
