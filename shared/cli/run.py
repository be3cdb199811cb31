"""`hookline up`, `hookline sandbox` and `hookline demo`: whole stacks in the foreground."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from shared.cli.stack import Stack, free_port
from shared.cometapi.operations import LYRICS, MUSIC
from shared.config import Settings, load_settings
from shared.states import JobStatus, PipelineStatus

SANDBOX_CLIP_SECONDS = 70.0  # long-song (and the README) extend at 60 s, so a first song must be longer than that


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8010, show_default=True)
@click.option("--api-key", envvar="SANDBOX_API_KEY", default=None, help="require this Bearer key, as the upstream does")
@click.option("--latency", type=float, default=0.0, show_default=True, help="seconds added to every answer")
@click.option("--step-seconds", type=float, default=1.0, show_default=True, help="seconds between task states")
@click.option("--clip-seconds", type=float, default=SANDBOX_CLIP_SECONDS, show_default=True,
              help="duration of generated clips (long enough for the README's extend at 60 s)")
@click.option("--dialect", envvar="SANDBOX_DIALECT", default="seed:object", show_default=True,
              help="the exports' <paths>:<answer>: paths seed|act (only that family is served), answer "
                   "object|bare|url|task")
@click.option("--faults", default=None, help='fault injection as JSON, e.g. {"drop_callbacks": 0.3}')
@click.option("--seed", type=int, default=None, help="seed for fault injection")
def sandbox(host: str, port: int, api_key: str | None, latency: float, step_seconds: float, clip_seconds: float,
            dialect: str, faults: str | None, seed: int | None) -> None:
    """Serve the offline CometAPI simulator."""
    from shared.sandbox import run_sandbox
    from shared.sandbox.media_routes import checked_dialect

    try:
        checked_dialect(dialect)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--dialect") from None
    config: dict[str, Any] = {"API_KEY": api_key, "LATENCY": latency, "STEP_SECONDS": step_seconds,
                              "CLIP_SECONDS": clip_seconds, "DIALECT": dialect}
    if faults:
        try:
            config["FAULTS"] = json.loads(faults)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--faults") from None
    if seed is not None:
        config["FAULT_SEED"] = seed
    run_sandbox(host, port, config)


def _wait_for_interrupt(stack: Stack) -> None:
    stopping = {"now": False}

    def _stop(*_: object) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    while not stopping["now"]:
        for name, proc in stack.procs.items():
            if proc.poll() is not None:
                click.echo(f"hookline: {name} exited with {proc.returncode}; stopping", err=True)
                return
        time.sleep(0.5)


def up_environment(settings: Settings, with_sandbox: bool) -> tuple[dict[str, str], Settings]:
    """The extra environment of `hookline up`'s processes, and the settings they will see.

    With the local sandbox, the upstream can reach the receiver, so HOOKLINE_PUBLIC_URL defaults to the receiver:
    jobs finish by callbacks, as in production, instead of by polling. A HOOKLINE_PUBLIC_URL that is set wins.
    """
    env: dict[str, str] = {}
    if with_sandbox and settings.api_key:
        env["SANDBOX_API_KEY"] = settings.api_key
    if with_sandbox and not settings.public_url:
        env["HOOKLINE_PUBLIC_URL"] = f"http://127.0.0.1:{settings.port}"
        settings = settings.with_overrides(public_url=env["HOOKLINE_PUBLIC_URL"])
    return env, settings


@click.command()
@click.option("--sandbox", "with_sandbox", is_flag=True,
              help="also run the simulator and point COMETAPI_BASE_URL at it")
@click.option("--sandbox-port", type=int, default=8010, show_default=True)
@click.option("--workers", type=int, default=1, show_default=True)
def up(with_sandbox: bool, sandbox_port: int, workers: int) -> None:
    """Run receiver, worker(s) and beat (and the sandbox) in the foreground; Ctrl-C stops them all."""
    from shared import db

    settings = load_settings()
    db.upgrade(settings)
    env, settings = up_environment(settings, with_sandbox)
    stack = Stack(env=env, log_dir=Path(settings.var_dir) / "logs", sandbox_port=sandbox_port if with_sandbox else None,
                  receiver_port=settings.port, workers=workers, quiet=False)
    with stack:
        click.echo(f"hookline up: receiver http://127.0.0.1:{settings.port}  (health: /healthz, API: /v1/jobs)")
        if stack.sandbox_url:
            click.echo(f"             sandbox  {stack.sandbox_url}  (COMETAPI_BASE_URL points here)")
        click.echo(f"             dashboard http://127.0.0.1:{settings.port}/ui  (log in with an API key or"
                   " HOOKLINE_UI_PASSWORD)")
        mode = f"callbacks to {settings.public_url}" if settings.public_url else "polling (HOOKLINE_PUBLIC_URL unset)"
        click.echo(f"             {mode}; broker {'embedded' if settings.embedded_broker else 'external'}")
        _wait_for_interrupt(stack)
    click.echo("hookline: stopped")


DEMO_SONG = {
    "prompt": "[Verse]\nWalking down the streets\nBeneath the city lights\n\n[Chorus]\nWe're alive tonight",
    "tags": "indie pop, dreamy",
    "title": "City Lights",
    "mv": "chirp-crow",
}
DEMO_CLIP_SECONDS = SANDBOX_CLIP_SECONDS


@click.command()
@click.option("--keep", is_flag=True, help="keep the temporary var/ folder and print where it is")
@click.option("--serve", is_flag=True, help="keep the stack running afterwards (dashboard, API) until Ctrl-C")
def demo(keep: bool, serve: bool) -> None:
    """An ephemeral stack on the sandbox: a custom song, a lyrics job, then the long-song pipeline."""
    import secrets
    import shutil

    from shared import db
    from shared.cli.demo_report import print_pipeline_table, wait_pipeline
    from shared.cli.submit import print_job, wait_for
    from shared.pipelines import create_pipeline, load_spec
    from shared.producer import submit_job

    var_dir = Path(tempfile.mkdtemp(prefix="hookline-demo-"))
    receiver_port, sandbox_port = free_port(), free_port()
    ui_password = secrets.token_urlsafe(9)
    env = {
        "HOOKLINE_VAR_DIR": str(var_dir),
        "HOOKLINE_PUBLIC_URL": f"http://127.0.0.1:{receiver_port}",
        "HOOKLINE_RECONCILE_INTERVAL": "2",
        "COMETAPI_BASE_URL": f"http://127.0.0.1:{sandbox_port}",
        "HOOKLINE_UI_PASSWORD": ui_password,
    }
    for key in ("HOOKLINE_DATABASE_URL", "HOOKLINE_BROKER_URL", "HOOKLINE_HOOK_SECRET"):
        os.environ.pop(key, None)
    settings = load_settings({**os.environ, **env})
    db.upgrade(settings)
    started = time.monotonic()
    stack = Stack(env=env, log_dir=var_dir / "logs", sandbox_port=sandbox_port, receiver_port=receiver_port,
                  sandbox_args=["--step-seconds", "0.5", "--clip-seconds", str(DEMO_CLIP_SECONDS)])
    with stack:
        click.echo(f"demo stack: sandbox {stack.sandbox_url}, receiver {stack.receiver_url}, var {var_dir}")
        song = submit_job(MUSIC, DEMO_SONG, settings=settings)
        lyrics = submit_job(LYRICS, {"prompt": "a cat who learns to fly"}, settings=settings)
        click.echo(f"submitted song {song} and lyrics {lyrics}; waiting for callbacks…")
        jobs = wait_for([song, lyrics], timeout=120, settings=settings)
        for job in jobs:
            print_job(job)
        pipeline_id = create_pipeline(settings, load_spec("long-song"), name="long-song (demo)")
        click.echo(f"\nlong-song pipeline {pipeline_id}: song → extend at 60 s → concat → WAV + timing;"
                   " persona → artist_consistency song → WAV")
        view = wait_pipeline(settings, pipeline_id, timeout=240)
        print_pipeline_table(view)
        click.echo(f"demo finished in {time.monotonic() - started:.1f}s")
        click.echo(f"dashboard: {stack.receiver_url}/ui  (operator password: {ui_password})")
        if serve:
            click.echo("serving until Ctrl-C …")
            _wait_for_interrupt(stack)
        else:
            click.echo("(the stack stops now; run `hookline demo --serve` to keep it up and open the dashboard)")
    if keep:
        click.echo(f"state kept in {var_dir}")
    else:
        shutil.rmtree(var_dir, ignore_errors=True)
    if any(job["status"] != JobStatus.SUCCEEDED for job in jobs) or view["status"] != PipelineStatus.SUCCEEDED:
        raise SystemExit(1)
