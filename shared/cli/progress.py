"""Waiting on a job or a pipeline from the CLI: live progress, and the exit codes a script can tell apart.

On a terminal (stderr is a TTY) a rich live view shows the status and, for a pipeline, a table of its steps; when
stderr is piped, one plain line per change. stdout only ever gets the final result (text, or one JSON object with
--json, which also silences the progress). The exit code says how the wait ended:

    0  EXIT_OK         the job / pipeline succeeded
    1  EXIT_FAILED     it finished without success (failed, canceled, or a pipeline with a broken step)
    2  (click, HooklineGroup)  bad input or an unusable environment; nothing was waited on
    3  EXIT_TIMED_OUT  --timeout ran out while the work was still in flight (it goes on; `hookline status ID`)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import click

from shared.states import JobStatus, PipelineStatus

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_TIMED_OUT = 3
POLL_SECONDS = 0.25


def exit_code(status: str, terminal: bool) -> int:
    if not terminal:
        return EXIT_TIMED_OUT
    return EXIT_OK if status == "succeeded" else EXIT_FAILED


def _job_lines(view: dict[str, Any]) -> list[str]:
    upstream = f" upstream={view['upstream_task_id']}" if view.get("upstream_task_id") else ""
    return [f"job {view['id']} {view['operation']}: {view['status']}{upstream}"]


def _pipeline_lines(view: dict[str, Any]) -> list[str]:
    lines = [f"pipeline {view['id']}: {view['status']}"]
    for step in view["steps"]:
        jobs = ",".join(str(j["status"]) for j in step["jobs"])
        lines.append(f"  step {step['name']} {step['operation']}: {step['status']}" + (f" ({jobs})" if jobs else ""))
    return lines


def _job_renderable(view: dict[str, Any], elapsed: float) -> Any:
    from rich.text import Text

    text = Text(f"job {view['id']}  {view['operation']}  ")
    text.append(str(view["status"]), style=_style(str(view["status"])))
    if view.get("upstream_task_id"):
        text.append(f"  upstream={view['upstream_task_id']}")
    text.append(f"  {elapsed:.0f}s", style="dim")
    return text


def _pipeline_renderable(view: dict[str, Any], elapsed: float) -> Any:
    from rich.table import Table

    table = Table(title=f"pipeline {view['id']}  {view.get('name') or ''}  {view['status']}  {elapsed:.0f}s",
                  title_justify="left")
    for column in ("step", "operation", "status", "jobs"):
        table.add_column(column)
    for step in view["steps"]:
        jobs = ", ".join(f"{j['id'][:8]}({j['status']})" for j in step["jobs"]) or "-"
        table.add_row(step["name"], step["operation"], f"[{_style(step['status'])}]{step['status']}[/]", jobs)
    return table


def _style(status: str) -> str:
    return {"succeeded": "green", "failed": "red", "canceled": "yellow", "skipped": "yellow"}.get(status, "cyan")


def watch(fetch: Callable[[], dict[str, Any]], *, terminal: Callable[[dict[str, Any]], bool], timeout: float,
          kind: str, quiet: bool, stream: TextIO | None = None) -> dict[str, Any]:
    """Poll ``fetch`` until ``terminal(view)`` or ``timeout`` seconds; show progress on ``stream`` (stderr)."""
    stream = stream or sys.stderr
    lines = _job_lines if kind == "job" else _pipeline_lines
    renderable = _job_renderable if kind == "job" else _pipeline_renderable
    started = time.monotonic()
    view = fetch()
    if quiet:
        while not terminal(view) and time.monotonic() - started < timeout:
            time.sleep(POLL_SECONDS)
            view = fetch()
        return view
    if stream.isatty():
        from rich.console import Console
        from rich.live import Live

        with Live(renderable(view, 0.0), console=Console(file=stream), refresh_per_second=4, transient=True) as live:
            while not terminal(view) and time.monotonic() - started < timeout:
                time.sleep(POLL_SECONDS)
                view = fetch()
                live.update(renderable(view, time.monotonic() - started))
        if not terminal(view):
            click.echo(f"timed out after {timeout:g}s; still {view['status']}", file=stream)
        return view
    shown: set[str] = set()
    while True:
        for line in lines(view):
            if line not in shown:  # plain lines: each new state once, in order
                shown.add(line)
                click.echo(f"{time.monotonic() - started:6.1f}s {line.strip()}", file=stream)
        if terminal(view) or time.monotonic() - started >= timeout:
            break
        time.sleep(POLL_SECONDS)
        view = fetch()
    if not terminal(view):
        click.echo(f"{time.monotonic() - started:6.1f}s timed out after {timeout:g}s; still {view['status']}",
                   file=stream)
    return view


def wait_job(settings: Any, job_id: str, *, timeout: float, quiet: bool) -> tuple[dict[str, Any], int]:
    """Wait for one job; (its view, the exit code)."""
    from shared.producer import get_job

    view = watch(lambda: get_job(job_id, settings=settings), terminal=lambda v: JobStatus(v["status"]).terminal,
                 timeout=timeout, kind="job", quiet=quiet)
    return view, exit_code(view["status"], JobStatus(view["status"]).terminal)


def wait_pipeline(settings: Any, pipeline_id: str, *, timeout: float, quiet: bool) -> tuple[dict[str, Any], int]:
    """Wait for one pipeline; (its view, the exit code)."""
    from shared.pipelines import get_pipeline

    view = watch(lambda: get_pipeline(pipeline_id, settings=settings),
                 terminal=lambda v: PipelineStatus(v["status"]).terminal, timeout=timeout, kind="pipeline",
                 quiet=quiet)
    return view, exit_code(view["status"], PipelineStatus(view["status"]).terminal)
