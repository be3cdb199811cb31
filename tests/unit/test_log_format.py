"""Structured logs: one JSON object per line with job/pipeline/upstream task ids from every source, tokens cut."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from flask import Flask

from shared.config import load_settings
from shared.errors import ConfigError
from shared.log_format import configure_logging, log_context

JOB = "0123456789abcdef0123456789abcdef"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_logging(load_settings({"HOOKLINE_LOG_FORMAT": "json", "HOOKLINE_LOG_LEVEL": "DEBUG"}), stream)
    yield stream
    logging.getLogger().removeHandler(handler)


def records(stream: io.StringIO) -> list[dict[str, object]]:
    """hookline's own lines (libraries such as Celery log through the same handler)."""
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [line for line in lines if str(line["logger"]).startswith("hookline")]


def test_each_line_is_json_with_the_fields_given_as_extra(json_lines: io.StringIO) -> None:
    log = logging.getLogger("hookline.test")
    log.info("submitted %s", "x", extra={"job_id": JOB, "upstream_task_id": "task-9"})
    log.warning("plain")
    first, second = records(json_lines)
    assert first["message"] == "submitted x" and first["level"] == "INFO" and first["logger"] == "hookline.test"
    assert first["job_id"] == JOB and first["upstream_task_id"] == "task-9" and "pipeline_id" not in first
    assert str(first["ts"]).endswith("+00:00")
    assert "job_id" not in second


def test_log_context_binds_fields_and_nests(json_lines: io.StringIO) -> None:
    log = logging.getLogger("hookline.test")
    with log_context(pipeline_id="p1"):
        with log_context(job_id=JOB, upstream_task_id="t1"):
            log.info("inner")
        log.info("outer")
    log.info("after")
    inner, outer, after = records(json_lines)
    assert (inner["pipeline_id"], inner["job_id"], inner["upstream_task_id"]) == ("p1", JOB, "t1")
    assert outer["pipeline_id"] == "p1" and "job_id" not in outer
    assert "pipeline_id" not in after
    with pytest.raises(TypeError), log_context(api_key="nope"):  # type: ignore[arg-type]
        pass


def test_fields_come_from_the_flask_request_being_served(json_lines: io.StringIO) -> None:
    app = Flask("t")

    @app.post("/hooks/cometapi/<job_id>/<int:attempt>/<token>")
    def hook(job_id: str, attempt: int, token: str) -> str:
        logging.getLogger("hookline.hooks").info("callback for /hooks/cometapi/%s/%d/%s", job_id, attempt, token)
        return "ok"

    assert app.test_client().post(f"/hooks/cometapi/{JOB}/1/SeCrEtToKeN").status_code == 200
    (line,) = records(json_lines)
    assert line["job_id"] == JOB
    assert "SeCrEtToKeN" not in json.dumps(line)
    assert line["message"] == f"callback for /hooks/cometapi/{JOB}/1/<token>"


def test_fields_come_from_the_celery_task_being_run(json_lines: io.StringIO) -> None:
    app = Celery("t", broker="memory://", set_as_current=False)
    app.conf.task_always_eager = True

    @app.task(name="t.by_arg")
    def by_arg(job_id: str) -> None:
        logging.getLogger("hookline.submit").info("working")

    @app.task(name="t.by_kwargs")
    def by_kwargs(pipeline_id: str, job_id: str) -> None:
        logging.getLogger("hookline.submit").info("working")

    by_arg.apply(args=[JOB])
    by_kwargs.apply(kwargs={"pipeline_id": "p7", "job_id": JOB})
    by_arg.apply(args=["not-a-job-id"])
    first, second, third = records(json_lines)
    assert first["job_id"] == JOB
    assert second["job_id"] == JOB and second["pipeline_id"] == "p7"
    assert "job_id" not in third


def test_exceptions_are_one_json_line_with_the_traceback(json_lines: io.StringIO) -> None:
    try:
        raise RuntimeError("boom at /hooks/cometapi/j/1/tok3n")
    except RuntimeError:
        logging.getLogger("hookline.test").exception("failed")
    (line,) = records(json_lines)
    assert "RuntimeError: boom" in str(line["exc_info"]) and "tok3n" not in str(line["exc_info"])


def test_text_format_is_the_default_and_also_cuts_tokens() -> None:
    stream = io.StringIO()
    handler = configure_logging(load_settings({}), stream)
    try:
        logging.getLogger("hookline.test").info("hit /hooks/cometapi/j/1/abcDEF")
    finally:
        logging.getLogger().removeHandler(handler)
    line = stream.getvalue().strip()
    assert line.endswith("INFO hookline.test: hit /hooks/cometapi/j/1/<token>")


def test_configure_logging_is_idempotent() -> None:
    settings = load_settings({"HOOKLINE_LOG_FORMAT": "json"})
    first = configure_logging(settings, io.StringIO())
    second = configure_logging(settings, io.StringIO())
    try:
        ours = [h for h in logging.getLogger().handlers if getattr(h, "hookline", False)]
        assert ours == [second] and first not in logging.getLogger().handlers
    finally:
        logging.getLogger().removeHandler(second)


@pytest.mark.parametrize(("variable", "value"), [("HOOKLINE_LOG_FORMAT", "xml"), ("HOOKLINE_LOG_LEVEL", "LOUD")])
def test_bad_settings_are_named(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        configure_logging(load_settings({variable: value}), io.StringIO())


def test_a_fresh_process_logs_json_lines_to_stderr() -> None:
    code = ("import logging; from shared.config import load_settings; from shared.log_format import configure_logging;"
            "configure_logging(load_settings()); logging.getLogger('hookline.x').info('hello', extra={'job_id': 'j1'})")
    env = {"HOOKLINE_LOG_FORMAT": "json", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    (line,) = [json.loads(x) for x in done.stderr.splitlines()]
    assert line["message"] == "hello" and line["job_id"] == "j1"
