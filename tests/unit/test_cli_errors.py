"""Careless or hostile input and a broken environment give one clear line and exit code 2, never a traceback.

Each test goes through the real `hookline` command (click's runner; two through a real subprocess) and checks that
nothing was written: no job row, no database file, no folder.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from shared.bulk import source as bulk_source
from shared.cli.main import main
from shared.cli.stack import free_port
from shared.nesting import MAX_DEPTH

REPO = Path(__file__).resolve().parents[2]
DEEP = "[" * 5000 + "]" * 5000
ALIAS_BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


@pytest.fixture
def env(base_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key, value in base_env.items():
        monkeypatch.setenv(key, value)
    return base_env


def hookline(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def one_error_line(result: Result, *named: str) -> str:
    """The result exited 2 with one line on stderr naming everything in ``named``, and no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.stderr, result.exception)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr + result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for word in named:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def jobs_in(database: Path) -> int:
    with sqlite3.connect(database) as conn:
        return int(conn.execute("select count(*) from jobs").fetchone()[0])


# --- spec files ------------------------------------------------------------------------------------------------


def test_a_yaml_alias_bomb_is_refused_at_once(env, tmp_path):
    spec = tmp_path / "bomb.yaml"
    spec.write_text("steps:\n  song:\n    op: generate\n    params:\n      tags: pop\n      x:\n"
                    + "".join(f"        {line}\n" for line in ALIAS_BOMB.splitlines()))
    started = time.monotonic()
    line = one_error_line(hookline("pipeline", "validate", str(spec)), str(spec), "aliases", "line ")
    assert time.monotonic() - started < 5, line


def test_a_yaml_alias_that_contains_itself_is_refused(env, tmp_path):
    spec = tmp_path / "loop.yaml"
    spec.write_text("steps: &s {song: {op: generate, params: {tags: pop, x: *s}}}\n")
    one_error_line(hookline("pipeline", "validate", str(spec)), str(spec), "line 1")


@pytest.mark.parametrize("name, text", [
    ("deep.yaml", "steps: " + DEEP + "\n"),
    ("deep.json", '{"steps": ' + DEEP + "}"),
    ("just-deep-enough.yaml", "steps: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n"),
])
def test_deeply_nested_specs_are_refused(env, tmp_path, name, text):
    spec = tmp_path / name
    spec.write_text(text)
    one_error_line(hookline("pipeline", "validate", str(spec)), str(spec), f"deeper than {MAX_DEPTH} levels")


@pytest.mark.parametrize("name, data, words", [
    ("utf16.yaml", "steps: {}\n".encode("utf-16"), ["UTF-16", "UTF-8"]),
    ("binary.yaml", b"steps: \xc9\x00\xff\xfe\x01" * 10, ["not UTF-8", "line 1"]),
    ("nul.yaml", b"name: a\nsteps: {}\n\x00\x01\x02", ["NUL", "line 3"]),
    ("big.yaml", b"# " + b"x" * (1024 * 1024) + b"\nsteps: {}\n", ["larger than 1024 KiB"]),
])
def test_binary_wide_and_oversized_spec_files_are_refused(env, tmp_path, name, data, words):
    spec = tmp_path / name
    spec.write_bytes(data)
    one_error_line(hookline("pipeline", "validate", str(spec)), str(spec), *words)


def test_a_bad_spec_file_starts_nothing(env, settings, tmp_path):
    spec = tmp_path / "deep.yaml"
    spec.write_text("steps: " + DEEP + "\n")
    one_error_line(hookline("pipeline", "run", str(spec)), str(spec))
    assert jobs_in(tmp_path / "var" / "hookline.db") == 0


# --- --param and bulk lines ------------------------------------------------------------------------------------


def test_a_deeply_nested_param_is_a_usage_error_and_nothing_is_submitted(env, settings, tmp_path):
    result = hookline("submit", "music", "--description", "x", "--param", f"prompt={DEEP}")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: Invalid value for --param: prompt: nested deeper than {MAX_DEPTH} levels")
    assert jobs_in(tmp_path / "var" / "hookline.db") == 0


def test_a_deeply_nested_bulk_line_is_a_bad_line_named_by_number(env, settings, tmp_path):
    # A bad line is reported like every other bad line (bulk's exit code 1: "bad lines"), never a traceback.
    file = tmp_path / "jobs.jsonl"
    file.write_text('{"operation": "lyrics", "params": {"prompt": "ok"}}\n'
                    '{"operation": "lyrics", "params": {"prompt": ' + DEEP + "}}\n")
    result = hookline("bulk", str(file))
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert f"line 2: not valid JSON (nested deeper than {MAX_DEPTH} levels)" in result.stderr
    assert jobs_in(tmp_path / "var" / "hookline.db") == 0


def test_an_overlong_bulk_line_is_refused_without_being_read_whole(env, settings, tmp_path, monkeypatch):
    monkeypatch.setattr(bulk_source, "MAX_LINE_BYTES", 1000)
    file = tmp_path / "jobs.jsonl"
    file.write_text('{"operation": "lyrics", "params": {"prompt": "' + "x" * 5000 + '"}}\n'
                    '{"operation": "lyrics", "params": {"prompt": "ok"}}\n')
    lines = list(bulk_source.BulkSource.from_path(file).lines())
    assert [(raw.line_no, raw.error is not None) for raw in lines] == [(1, True), (2, False)]
    assert "longer than" in str(lines[0].error)


def test_an_oversized_bulk_file_is_refused(env, settings, tmp_path, monkeypatch):
    monkeypatch.setattr(bulk_source, "MAX_BULK_BYTES", 100)
    file = tmp_path / "jobs.jsonl"
    file.write_text('{"operation": "lyrics", "params": {"prompt": "ok"}}\n' * 3)
    result = hookline("bulk", str(file))
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert f"{file.name} holds 156 bytes, more than the 100 a bulk file may: split it" in result.stderr
    assert jobs_in(tmp_path / "var" / "hookline.db") == 0


# --- the database and the var folder ---------------------------------------------------------------------------


def test_an_unreachable_postgres_names_the_url_without_its_password(env):
    url = f"postgresql+psycopg://hookline:s3cret-pw@127.0.0.1:{free_port()}/db?connect_timeout=2"
    line = one_error_line(hookline("status", "abc", env={"HOOKLINE_DATABASE_URL": url}),
                          "unreachable", "127.0.0.1", "HOOKLINE_DATABASE_URL")
    assert "s3cret-pw" not in line


@pytest.mark.parametrize("url, words", [
    ("mysql://u:s3cret-pw@127.0.0.1/db", ["HOOKLINE_DATABASE_URL", "driver", "not installed"]),
    ("nosuchdb://u:s3cret-pw@127.0.0.1/db", ["HOOKLINE_DATABASE_URL", "nosuchdb"]),
    ("postgresql+psycopg://u:s3cret-pw@127.0.0.1:99999/db", ["HOOKLINE_DATABASE_URL", "port"]),
    ("postgresql+psycopg://u:s3cret-pw@127.0.0.1:port/db", ["HOOKLINE_DATABASE_URL"]),
])
def test_a_bad_database_url_names_the_variable(env, url, words):
    line = one_error_line(hookline("costs", env={"HOOKLINE_DATABASE_URL": url}), *words)
    assert "s3cret-pw" not in line


def test_a_missing_var_dir_is_not_created_by_reading(env, tmp_path):
    var = tmp_path / "nowhere" / "var"
    env_vars = {"HOOKLINE_VAR_DIR": str(var), "HOOKLINE_DATABASE_URL": None}
    spec = tmp_path / "spec.json"
    spec.write_text('{"steps": {"words": {"op": "lyrics", "params": {"prompt": "x"}}}}')
    lines = tmp_path / "lines.jsonl"
    lines.write_text('{"operation": "lyrics", "params": {"prompt": "x"}}\n')
    for command in (["status", "abc"], ["watch", "--once"], ["costs"], ["submit", "lyrics", "--prompt", "x"],
                    ["pipeline", "status", "abc"], ["pipeline", "run", str(spec)], ["pipeline", "cancel", "abc"],
                    ["bulk", str(lines)], ["bulk", str(lines), "--dry-run"], ["apikey", "list"],
                    ["apikey", "create", "--name", "n"], ["deliveries"], ["deliveries", "redeliver", "abc"]):
        one_error_line(hookline(*command, env=env_vars), "HOOKLINE_VAR_DIR", "hookline db upgrade")
    assert not (tmp_path / "nowhere").exists()


def test_a_var_dir_that_is_a_file_names_the_variable(env, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    env_vars = {"HOOKLINE_VAR_DIR": str(afile), "HOOKLINE_DATABASE_URL": None}
    one_error_line(hookline("status", "abc", env=env_vars), "HOOKLINE_VAR_DIR", str(afile), "not a folder")
    one_error_line(hookline("pipeline", "status", "abc", env=env_vars), "HOOKLINE_VAR_DIR", str(afile))
    assert afile.read_text() == "not a folder"


@pytest.mark.parametrize("command", [
    ["status", "abc"], ["submit", "lyrics", "--prompt", "x"], ["watch", "--once"], ["watch", "--json"], ["costs"],
    ["pipeline", "status", "abc"],
])
def test_an_unmigrated_database_says_run_db_upgrade(env, tmp_path, command):
    database = tmp_path / "var" / "hookline.db"
    sqlite3.connect(database).close()  # the file exists, with no tables
    one_error_line(hookline(*command), "no hookline tables yet", "hookline db upgrade")
    with sqlite3.connect(database) as conn:
        assert conn.execute("select count(*) from sqlite_master").fetchone()[0] == 0


# --- a real process: nothing but the one line reaches stderr ---------------------------------------------------


def run_hookline(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shared.cli", *args],
                          env={**os.environ, **env}, cwd=REPO, capture_output=True, text=True, timeout=60,
                          check=False)


def test_a_real_process_prints_one_line_for_an_unreachable_database(base_env):
    url = f"postgresql+psycopg://hookline:s3cret-pw@127.0.0.1:{free_port()}/db?connect_timeout=2"
    done = run_hookline("status", "abc", env={**base_env, "HOOKLINE_DATABASE_URL": url})
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "s3cret-pw" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("hookline: database at postgresql+psycopg://hookline:***@127.0.0.1:")


def test_a_real_process_refuses_an_alias_bomb_quickly(base_env, tmp_path):
    spec = tmp_path / "bomb.yaml"
    spec.write_text(ALIAS_BOMB)
    started = time.monotonic()
    done = run_hookline("pipeline", "validate", str(spec), env=base_env)
    assert time.monotonic() - started < 30  # process start included; the refusal itself is milliseconds
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert str(spec) in line and "aliases" in line
