"""Operators' habits (issue 15): Alembic from the repo root, `hookline db …`, --version/-h/--json, quiet start-up
logs, the wait exit codes, and "run `hookline db upgrade`" on a never-migrated database."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import inspect, update

from shared import db
from shared.cli import progress
from shared.cli.main import main
from shared.config import Settings, load_settings
from shared.db import open_session
from shared.models import Base, Job
from shared.producer import submit_job

REPO = Path(__file__).resolve().parents[2]
HOOKLINE = str(Path(sys.executable).with_name("hookline"))
ALEMBIC = str(Path(sys.executable).with_name("alembic"))


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'fresh' / 'hookline.db'}"


def run(args: list[str], env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env}
    full.pop("HOOKLINE_DATABASE_URL", None) if "HOOKLINE_DATABASE_URL" not in env else None
    return subprocess.run(args, cwd=cwd, env=full, capture_output=True, text=True, timeout=120)


def test_alembic_upgrade_head_from_the_repo_root_on_a_fresh_database(fresh_url: str, tmp_path: Path) -> None:
    env = {"HOOKLINE_DATABASE_URL": fresh_url, "HOOKLINE_VAR_DIR": str(tmp_path / "var")}
    done = run([ALEMBIC, "upgrade", "head"], env)
    assert done.returncode == 0, done.stderr
    settings = load_settings(env)
    assert db.current_revision(settings) == db.head_revision(settings)
    assert set(Base.metadata.tables) <= set(inspect(db.get_engine(settings)).get_table_names())

    history = run([ALEMBIC, "history"], env)
    assert history.returncode == 0 and f"-> {db.head_revision(settings)} (head)" in history.stdout
    current = run([ALEMBIC, "current"], env)
    assert current.returncode == 0 and db.head_revision(settings) in current.stdout


def test_alembic_revision_autogenerate_finds_no_difference_at_head(tmp_path: Path) -> None:
    """Run against a copy of alembic.ini and the migrations, so the repo gains no file."""
    copy = tmp_path / "repo"
    (copy / "shared").mkdir(parents=True)
    shutil.copy(REPO / "alembic.ini", copy / "alembic.ini")
    shutil.copytree(REPO / "shared" / "migrations", copy / "shared" / "migrations",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {"HOOKLINE_VAR_DIR": str(tmp_path / "var")}
    assert run([ALEMBIC, "upgrade", "head"], env, cwd=copy).returncode == 0
    done = run([ALEMBIC, "revision", "--autogenerate", "-m", "nothing new", "--rev-id", "0099_probe"], env, cwd=copy)
    assert done.returncode == 0, done.stderr
    written = copy / "shared" / "migrations" / "versions" / "0099_probe_nothing_new.py"
    body = written.read_text()
    upgrade = body.split("def upgrade()", 1)[1].split("def downgrade()", 1)[0]
    assert "op." not in upgrade, upgrade  # the models and the migrations agree: nothing to write


def hookline(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def env(base_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key, value in base_env.items():
        monkeypatch.setenv(key, value)
    return base_env


def test_db_commands_with_json(env: dict[str, str]) -> None:
    up = hookline("db", "upgrade", "--json")
    assert up.exit_code == 0, up.output
    head = json.loads(up.stdout)["head"]
    assert json.loads(up.stdout)["current"] == head

    history = json.loads(hookline("db", "history", "--json").stdout)
    revisions = [r["revision"] for r in history["revisions"]]
    assert revisions[0] == head and history["current"] == head and len(revisions) >= 4
    previous = history["revisions"][1]["revision"]

    down = hookline("db", "downgrade", "-1", "--json")
    assert down.exit_code == 0, down.output
    assert json.loads(down.stdout) == {"current": previous, "previous": head, "head": head}
    assert json.loads(hookline("db", "current", "--json").stdout)["up_to_date"] is False
    assert "(current)" in hookline("db", "history").stdout.splitlines()[1]

    bad = hookline("db", "downgrade", "no-such-rev")
    assert bad.exit_code == 2 and "unknown revision 'no-such-rev'" in bad.stderr and "Traceback" not in bad.output
    assert json.loads(hookline("db", "upgrade", "--json").stdout)["current"] == head


def test_version_and_short_help(env: dict[str, str]) -> None:
    from importlib.metadata import version

    assert hookline("--version").stdout.strip() == f"hookline {version('hookline')}"
    assert hookline("-h").stdout == hookline("--help").stdout
    assert "Usage: main db downgrade" in hookline("db", "downgrade", "-h").stdout


def test_process_start_logs_no_alembic_chatter_at_info(env: dict[str, str]) -> None:
    subprocess.run([HOOKLINE, "db", "upgrade"], env={**os.environ, **env}, check=True, capture_output=True)
    quiet = subprocess.run([HOOKLINE, "db", "current"], env={**os.environ, **env}, capture_output=True, text=True)
    assert "alembic" not in quiet.stderr, quiet.stderr
    loud = subprocess.run([HOOKLINE, "db", "current"], env={**os.environ, **env, "HOOKLINE_LOG_LEVEL": "DEBUG"},
                          capture_output=True, text=True)
    assert "DEBUG alembic.runtime.migration: Context impl SQLiteImpl" in loud.stderr
    assert " INFO alembic" not in loud.stderr


@pytest.mark.parametrize("args", [
    ["status", "0" * 32], ["costs"], ["costs", "--json"], ["deliveries"], ["retry", "--budget-exceeded"],
    ["reconcile"], ["pipeline", "status", "0" * 32], ["apikey", "list"], ["watch", "--once"],
    ["submit", "lyrics", "--prompt", "x"], ["prune", "--older-than", "30d"], ["health", "--beat"],
    ["worker"], ["beat"], ["receiver"], ["db", "downgrade", "-1"], ["pipeline", "cancel", "0" * 32],
])
def test_a_never_migrated_database_says_run_db_upgrade(env: dict[str, str], args: list[str]) -> None:
    Path(env["HOOKLINE_VAR_DIR"], "hookline.db").touch()  # exists, never migrated
    result = hookline(*args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    assert "run `hookline db upgrade`" in result.stderr, result.stderr


def test_wait_exit_codes(settings: Settings, env: dict[str, str]) -> None:
    """No worker runs here: a waited job stays queued, so the wait times out (3); a failed job exits 1."""
    result = hookline("submit", "lyrics", "--prompt", "a song about tides", "--wait", "--timeout", "1")
    assert result.exit_code == progress.EXIT_TIMED_OUT == 3, (result.output, result.exception)
    assert "job " in result.stderr and ": queued" in result.stderr and "timed out after 1s" in result.stderr
    assert "queued" in result.stdout  # the final state is still printed

    job_id = submit_job("lyrics", {"prompt": "x"}, settings=settings)
    with open_session(settings) as session:
        session.execute(update(Job).where(Job.id == job_id).values(status="failed", error="boom"))
        session.commit()
    view, code = progress.wait_job(settings, job_id, timeout=5, quiet=True)
    assert (view["status"], code) == ("failed", progress.EXIT_FAILED)
    assert progress.exit_code("succeeded", True) == progress.EXIT_OK


def test_json_on_commands_that_print_a_result(env: dict[str, str], settings: Settings) -> None:
    key = json.loads(hookline("apikey", "create", "--name", "acme", "--json").stdout)["id"]
    assert json.loads(hookline("apikey", "disable", key, "--json").stdout) == {"id": key, "disabled": True}
    secret = json.loads(hookline("apikey", "webhook-secret", "--local", "--json").stdout)
    assert secret["id"] == "local" and secret["webhook_secret"].startswith("whsec_")
    enabled = json.loads(hookline("deliveries", "enable-endpoint", "https://example.com/h", "--json").stdout)
    assert enabled == {"url": "https://example.com/h", "was_disabled": False}
    assert "long-song" in json.loads(hookline("pipeline", "examples", "--json").stdout)
    retried = hookline("retry", "0" * 32, "--json")
    assert retried.exit_code == 2 and "no job" in retried.stderr  # bad input stays a one-line error
    job_id = submit_job("lyrics", {"prompt": "x"}, settings=settings)
    with open_session(settings) as session:
        session.execute(update(Job).where(Job.id == job_id).values(status="failed", error="budget exceeded: cap"))
        session.commit()
    assert json.loads(hookline("retry", job_id, "--json").stdout) == {"requeued": [job_id], "refused": []}
    swept = json.loads(hookline("reconcile", "--json").stdout)
    assert set(swept) == {"fetched", "fetch_calls", "applied", "requeued", "timed_out"}


def test_wait_shows_live_progress_on_a_terminal(settings: Settings, env: dict[str, str]) -> None:
    """stderr on a pseudo-terminal: rich's live view (cursor control, the status) instead of plain lines; stdout
    still gets the plain final result, and the exit code still says the wait timed out."""
    import pty

    leader, follower = pty.openpty()
    try:
        done = subprocess.run([HOOKLINE, "submit", "lyrics", "--prompt", "tides", "--wait", "--timeout", "1.5"],
                              env={**os.environ, **env, "TERM": "xterm", "COLUMNS": "100"}, stdout=subprocess.PIPE,
                              stderr=follower, text=True, timeout=120)
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    assert done.returncode == progress.EXIT_TIMED_OUT
    text = shown.decode(errors="replace")
    assert "\x1b[" in text and "queued" in text  # drawn by rich's Live, with the job's status
    assert "timed out after 1.5s; still queued" in text
    assert done.stdout.startswith("job ") and "queued" in done.stdout


def test_pipeline_run_wait_prints_step_lines_when_piped(settings: Settings, env: dict[str, str]) -> None:
    result = hookline("pipeline", "run", "long-song", "--wait", "--timeout", "1")
    assert result.exit_code == progress.EXIT_TIMED_OUT, (result.output, result.exception)
    assert re.search(r"pipeline [0-9a-f]{32}: running", result.stderr), result.stderr
    assert re.search(r"step \w+ \w+: (pending|dispatched)", result.stderr), result.stderr
    assert "timed out after 1s; still running" in result.stderr


def test_db_revision_writes_a_migration(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Into a copy of the migrations (the repo gains no file); --json stays JSON though Alembic prints too."""
    copy = tmp_path / "migrations"
    shutil.copytree(REPO / "shared" / "migrations", copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(db, "MIGRATIONS_DIR", copy)
    assert hookline("db", "upgrade").exit_code == 0
    made = hookline("db", "revision", "-m", "nothing new", "--autogenerate", "--rev-id", "0099_probe", "--json")
    assert made.exit_code == 0, made.output
    (written,) = json.loads(made.stdout)["revisions"]
    assert written["revision"] == "0099_probe" and Path(written["path"]).parent == copy / "versions"
    assert "op." not in Path(written["path"]).read_text().split("def upgrade()")[1].split("def downgrade()")[0]
    assert "Generating" in made.stderr
