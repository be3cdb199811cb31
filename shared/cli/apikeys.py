"""`hookline apikey`: producer API keys, their admission limits (max in flight, rate) and default priority."""

from __future__ import annotations

import json
from typing import Any

import click
from sqlalchemy import select

from shared.cli.db_commands import echo_result, json_option
from shared.config import load_settings
from shared.db import open_session
from shared.models import ApiKey
from shared.schema_check import require_database


@click.group()
def apikey() -> None:
    """Producer API keys (stored hashed; each has its own webhook signing secret)."""


def cli_priority(raw: str | None, option: str = "--priority") -> int | None:
    """A --priority value (interactive, pipeline, bulk or an integer) as a number; None when not given."""
    from shared.admission import parse_priority
    from shared.errors import ValidationError

    if raw is None:
        return None
    try:
        return parse_priority(raw)
    except ValidationError as exc:
        raise click.BadParameter(exc.message, param_hint=option) from None


LIMIT_OPTIONS = [
    click.option("--max-in-flight", default=None, metavar="N|none",
                 help="at most N of this key's jobs in flight at once (admission); none: no own limit"),
    click.option("--rate", default=None, metavar="R|none",
                 help="at most R of this key's submits per second (admission); none: no own limit"),
    click.option("--priority", default=None, metavar="P|none",
                 help="default priority of the key's single jobs: interactive, pipeline, bulk or an integer"),
]


def _limits_of(max_in_flight: str | None, rate: str | None, priority: str | None) -> dict[str, Any]:
    """The CLI's words as ``parse_limits`` arguments; a bad value is a one-line error naming the option."""
    from shared.apikeys import UNSET, parse_limits
    from shared.errors import ValidationError

    def number(raw: str | None, cast: Any, option: str) -> Any:
        if raw is None:
            return UNSET
        if raw.strip().lower() == "none":
            return None
        try:
            return cast(raw)
        except ValueError:
            raise click.BadParameter(f"{raw!r} is not a number (or none)", param_hint=option) from None

    try:
        return parse_limits(number(max_in_flight, int, "--max-in-flight"), number(rate, float, "--rate"),
                            UNSET if priority is None else None if priority.lower() == "none" else priority)
    except ValidationError as exc:
        hint = {"max_in_flight": "--max-in-flight", "rate": "--rate", "default_priority": "--priority"}
        raise click.BadParameter(exc.message, param_hint=hint.get(exc.field or "", exc.field)) from None


def _with_limit_options(command: Any) -> Any:
    for option in reversed(LIMIT_OPTIONS):
        command = option(command)
    return command


@apikey.command("create")
@click.option("--name", required=True, help="who the key is for")
@click.option("--budget", type=float, default=None, help="USD per day this key may spend upstream")
@_with_limit_options
@click.option("--json", "as_json", is_flag=True)
def apikey_create(name: str, budget: float | None, max_in_flight: str | None, rate: str | None,
                  priority: str | None, as_json: bool) -> None:
    """Create a key. The key itself is shown once, never stored."""
    require_database(load_settings())
    from shared.apikeys import create_api_key, set_limits

    if budget is not None and not budget > 0:
        raise click.BadParameter("must be a positive number of US dollars", param_hint="--budget")
    limits = _limits_of(max_in_flight, rate, priority)
    settings = load_settings()
    with open_session(settings) as session:
        new = create_api_key(session, settings, name, budget)
        set_limits(session, new.id, limits)
        session.commit()
    if as_json:
        click.echo(json.dumps({"id": new.id, "key": new.key, "webhook_secret": new.webhook_secret}))
        return
    click.echo(f"id:             {new.id}\nkey:            {new.key}   (shown once: store it now)\n"
               f"webhook secret: {new.webhook_secret}")


@apikey.command("update")
@click.argument("key_id")
@_with_limit_options
@click.option("--budget", default=None, metavar="USD|none",
              help="USD per day this key may spend upstream; while it is spent its jobs wait (none: no own budget)")
@click.option("--json", "as_json", is_flag=True)
def apikey_update(key_id: str, max_in_flight: str | None, rate: str | None, priority: str | None,
                  budget: str | None, as_json: bool) -> None:
    """Change a key's admission limits, default priority and budget (from the next admission step on, which
    runs at once: jobs waiting on a raised budget go)."""
    require_database(load_settings())
    from shared.admission import admit_quietly
    from shared.apikeys import key_json, set_limits

    limits = {**_limits_of(max_in_flight, rate, priority), **_budget_of(budget)}
    if not limits:
        raise click.UsageError("give --max-in-flight, --rate, --priority or --budget")
    settings = load_settings()
    with open_session(settings) as session:
        key = set_limits(session, key_id, limits)
        if key is None:
            raise click.BadParameter(f"no key {key_id!r}", param_hint="KEY_ID")
        session.commit()
        shown = key_json(key)
    admit_quietly(settings)
    click.echo(json.dumps(shown) if as_json else _key_line(shown))


def _budget_of(raw: str | None) -> dict[str, Any]:
    from shared.apikeys import parse_limits
    from shared.errors import ValidationError

    if raw is None:
        return {}
    try:
        value = None if raw.strip().lower() == "none" else float(raw)
        return parse_limits(budget_usd_per_day=value)
    except (ValueError, ValidationError):
        raise click.BadParameter(f"{raw!r}: must be a number of US dollars above 0, or none",
                                 param_hint="--budget") from None


def _key_line(k: dict[str, Any]) -> str:
    budget = f"${k['budget_usd_per_day']}/day" if k["budget_usd_per_day"] else "no budget"
    limits = [f"max in flight {k['max_in_flight']}" if k["max_in_flight"] else "",
              f"rate {k['rate']:g}/s" if k["rate"] else "",
              f"priority {k['default_priority']}" if k["default_priority"] is not None else ""]
    extra = "".join(f"  {part}" for part in limits if part)
    return f"{k['id']}  {k['name']}  {budget}{extra}{'  DISABLED' if k['disabled'] else ''}"


@apikey.command("list")
@click.option("--json", "as_json", is_flag=True)
def apikey_list(as_json: bool) -> None:
    """List keys (never the keys themselves)."""
    require_database(load_settings())
    from shared.apikeys import key_json

    with open_session(load_settings()) as session:
        rows = [key_json(k) for k in session.scalars(select(ApiKey).order_by(ApiKey.created_at))]
    if as_json:
        click.echo(json.dumps(rows))
        return
    for k in rows:
        click.echo(_key_line(k))


@apikey.command("disable")
@click.argument("key_id")
@json_option
def apikey_disable(key_id: str, as_json: bool) -> None:
    """Disable a key: it is refused from now on (its jobs stay)."""
    require_database(load_settings())
    with open_session(load_settings()) as session:
        key = session.get(ApiKey, key_id)
        if key is None:
            raise click.BadParameter(f"no key {key_id!r}", param_hint="KEY_ID")
        key.disabled = True
        session.commit()
    echo_result(as_json, {"id": key_id, "disabled": True}, f"key {key_id} disabled")


@apikey.command("webhook-secret")
@click.argument("key_id", required=False)
@click.option("--local", is_flag=True, help="the secret for work with no API key (CLI, admin token, open API)")
@json_option
def apikey_webhook_secret(key_id: str | None, local: bool, as_json: bool) -> None:
    """Print the Standard Webhooks secret (whsec_…) that signs a key's events, to verify them with."""
    require_database(load_settings())
    from shared.apikeys import webhook_secret_for
    from shared.outgoing import LOCAL_OWNER

    if bool(key_id) == local:
        raise click.UsageError("give a KEY_ID or --local")
    settings = load_settings()
    if key_id:
        with open_session(settings) as session:
            if session.get(ApiKey, key_id) is None:
                raise click.BadParameter(f"no key {key_id!r}", param_hint="KEY_ID")
    secret = webhook_secret_for(settings, key_id or LOCAL_OWNER)
    echo_result(as_json, {"id": key_id or LOCAL_OWNER, "webhook_secret": secret}, secret)
