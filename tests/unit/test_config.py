from __future__ import annotations

import math
import os
import stat
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.config import VARIABLES, hook_secret, load_settings
from shared.config_numbers import NUMBER_RULES, YEAR_SECONDS
from shared.errors import ConfigError


def test_defaults_need_no_servers():
    s = load_settings({})
    assert s.base_url == "https://api.cometapi.com"
    assert s.database_url == "sqlite:///var/hookline.db"
    assert s.broker_url.startswith("hookline-sqla+sqlite:///var/")
    assert s.public_url is None and s.polling_mode
    assert s.port == 8000 and s.embedded_broker


@pytest.mark.parametrize(("name", "value"), [
    ("HOOKLINE_PORT", "eighty"), ("HOOKLINE_PORT", "70000"), ("COMETAPI_BASE_URL", "not a url"),
    ("HOOKLINE_PUBLIC_URL", "ftp://x"), ("HOOKLINE_PUBLIC_URL", "http://host:port"),
    ("HOOKLINE_DATABASE_URL", "::nonsense::"), ("HOOKLINE_BROKER_URL", "localhost"),
    ("HOOKLINE_RECONCILE_INTERVAL", "-1"), ("HOOKLINE_CALLBACK_GRACE", "soon"),
])
def test_bad_value_names_the_variable(name, value):
    with pytest.raises(ConfigError) as err:
        load_settings({name: value})
    assert err.value.variable == name and name in str(err.value)


def test_secrets_are_not_in_repr():
    s = load_settings({"COMETAPI_KEY": "sk-secretsecret", "HOOKLINE_HOOK_SECRET": "hooksecret"})
    assert "sk-secretsecret" not in repr(s) and "hooksecret" not in repr(s)


def test_generated_hook_secret_is_stable_and_private(tmp_path):
    s = load_settings({"HOOKLINE_VAR_DIR": str(tmp_path)})
    first = hook_secret(s)
    assert first == hook_secret(s) and len(first) >= 32
    mode = stat.S_IMODE(os.stat(tmp_path / "hook_secret").st_mode)
    assert mode == 0o600


def test_every_variable_maps_to_a_settings_field():
    fields = set(load_settings({}).__dataclass_fields__)
    assert {attr for attr, _ in VARIABLES.values()} <= fields


# --- numeric settings (issue 11, finding 2) -------------------------------------------------------------------

# Every numeric variable and the words its error must use for the unit. A new numeric setting must be added here.
UNITS = {
    "COMETAPI_CONNECT_TIMEOUT": "number of seconds",
    "COMETAPI_READ_TIMEOUT": "number of seconds",
    "HOOKLINE_PORT": "port number, a whole number",
    "HOOKLINE_RECONCILE_INTERVAL": "number of seconds",
    "HOOKLINE_BEAT_LEASE": "number of seconds",
    "HOOKLINE_CALLBACK_GRACE": "number of seconds",
    "HOOKLINE_QUEUED_GRACE": "number of seconds",
    "HOOKLINE_JOB_DEADLINE": "number of seconds",
    "HOOKLINE_SUBMIT_MAX_RETRIES": "whole number of retries",
    "HOOKLINE_RETRY_BASE": "number of seconds",
    "HOOKLINE_MAX_ARTIFACT_BYTES": "whole number of bytes",
    "HOOKLINE_BUDGET_USD_PER_DAY": "number of USD per day",
    "HOOKLINE_AMBIGUOUS_GRACE": "number of seconds",
    "HOOKLINE_UPSTREAM_RATE": "number of calls per second",
    "HOOKLINE_UPSTREAM_BURST": "number of calls",
    "HOOKLINE_MAX_IN_FLIGHT": "whole number of tasks",
    "HOOKLINE_ADMISSION_WINDOW": "whole number of jobs",
    "HOOKLINE_PRIORITY_AGEING": "number of seconds",
    "HOOKLINE_HOOK_RATE_PER_SOURCE": "number of rejected callbacks per second",
    "HOOKLINE_TRUSTED_PROXIES": "whole number",
    "HOOKLINE_WEBHOOK_SCHEDULE": "comma-separated seconds",
    "HOOKLINE_EXPORT_DEADLINE": "number of seconds",
    "HOOKLINE_MAX_PIPELINE_STEPS": "whole number of steps",
    "HOOKLINE_MAX_FAN_OUT": "whole number of branches",
    "HOOKLINE_MAX_BULK_LINES": "whole number of lines",
    "HOOKLINE_MAX_PROMPT_CHARS": "whole number of characters",
    "HOOKLINE_MAX_TAGS_CHARS": "whole number of characters",
    "HOOKLINE_MAX_TITLE_CHARS": "whole number of characters",
    "HOOKLINE_RETENTION_DAYS": "whole number of days",
}
NUMERIC = sorted(name for name, (_, kind) in VARIABLES.items() if kind in NUMBER_RULES)
NOT_NUMBERS = ["nan", "NaN", "-nan", "+NAN", "inf", "-inf", "+Inf", "INFINITY", "-Infinity", "1e999", "-1e999",
               "²", "٣", "٣٠", "5²", "", "   ", "1_000", "0x10", "5 s", "1 5"]


def test_every_numeric_setting_has_a_unit_under_test():
    assert NUMERIC == sorted(UNITS)


@pytest.mark.parametrize("value", NOT_NUMBERS)
@pytest.mark.parametrize("name", NUMERIC)
def test_numeric_settings_refuse_nan_infinity_and_non_ascii_digits(name, value):
    with pytest.raises(ConfigError) as err:
        load_settings({name: value})
    message = str(err.value)
    assert err.value.variable == name and message.startswith(f"{name}: expected ")
    assert UNITS[name] in message and repr(value) in message and "\n" not in message


@pytest.mark.parametrize("name", NUMERIC)
def test_numeric_settings_strip_surrounding_whitespace(name):
    attr = VARIABLES[name][0]
    value = getattr(load_settings({name: " 5 "}), attr)
    assert value == ((5.0,) if name == "HOOKLINE_WEBHOOK_SCHEDULE" else 5)
    assert getattr(load_settings({name: "\t7\n"}), attr) in (7, (7.0,))


def test_the_budget_error_speaks_of_dollars_not_seconds():
    with pytest.raises(ConfigError, match="USD per day") as err:
        load_settings({"HOOKLINE_BUDGET_USD_PER_DAY": "nan"})
    assert "second" not in str(err.value)
    assert load_settings({"HOOKLINE_BUDGET_USD_PER_DAY": "12.50"}).budget_usd_per_day == 12.5


@pytest.mark.parametrize(("name", "value", "bound"), [
    ("HOOKLINE_CALLBACK_GRACE", "1e300", "at most 31536000 (365 days)"),
    ("HOOKLINE_JOB_DEADLINE", "31536001", "at most 31536000 (365 days)"),
    ("HOOKLINE_CALLBACK_GRACE", "0", "greater than 0"),
    ("HOOKLINE_CALLBACK_GRACE", "-0", "greater than 0"),
    ("HOOKLINE_BUDGET_USD_PER_DAY", "-5", "greater than 0"),
    ("HOOKLINE_BUDGET_USD_PER_DAY", "1e300", "at most 1000000000"),
    ("HOOKLINE_UPSTREAM_RATE", "1e-300", "from 0.000001 to 1000000"),  # the limiter would wait 1/rate seconds
    ("HOOKLINE_PORT", "0", "from 1 to 65535"),
    ("HOOKLINE_PORT", "65536", "from 1 to 65535"),
    ("HOOKLINE_PORT", "80.0", "from 1 to 65535"),
    ("HOOKLINE_SUBMIT_MAX_RETRIES", "-1", "whole number of retries from 0 to 1000"),
    ("HOOKLINE_MAX_IN_FLIGHT", "1" * 5000, "from 0 to 1000000"),  # int() itself refuses 5,000 digits
    ("HOOKLINE_WEBHOOK_SCHEDULE", "5,300,-1", "'-1' is not"),
    ("HOOKLINE_WEBHOOK_SCHEDULE", "5,nan", "'nan' is not"),
    ("HOOKLINE_WEBHOOK_SCHEDULE", "5,1e999", "each from 0 to 31536000 (365 days)"),
])
def test_out_of_range_values_are_refused_with_their_bound(name, value, bound):
    with pytest.raises(ConfigError) as err:
        load_settings({name: value})
    assert err.value.variable == name and bound in str(err.value) and len(str(err.value)) < 200


def test_valid_numbers_and_the_largest_durations_still_fit_in_a_datetime():
    s = load_settings({"HOOKLINE_PORT": "8080", "HOOKLINE_CALLBACK_GRACE": "1.5e1", "HOOKLINE_RETRY_BASE": ".5",
                       "HOOKLINE_UPSTREAM_RATE": "+2", "HOOKLINE_MAX_IN_FLIGHT": "0",
                       "HOOKLINE_WEBHOOK_SCHEDULE": " 0, 5 ,,300,", "HOOKLINE_MAX_ARTIFACT_BYTES": "007"})
    assert (s.port, s.callback_grace, s.retry_base, s.upstream_rate, s.max_in_flight) == (8080, 15.0, 0.5, 2.0, 0)
    assert s.webhook_schedule == (0.0, 5.0, 300.0) and s.max_artifact_bytes == 7
    longest = NUMBER_RULES["seconds"].maximum
    assert longest == YEAR_SECONDS
    # deadline + grace + a poll delay, as the reconciler adds them, from a far-future "now"
    assert datetime(2999, 1, 1, tzinfo=UTC) + timedelta(seconds=4 * longest) < datetime.max.replace(tzinfo=UTC)


NUMBERISH = st.from_regex(r"\A\s?[-+]?[0-9٣²_.eEinfatyINFATY,]{0,10}\s?\Z")
ANY_VALUE = st.one_of(st.text(max_size=40), NUMBERISH, st.floats().map(repr), st.integers().map(str),
                      st.sampled_from(NOT_NUMBERS))


@settings(max_examples=400, derandomize=True, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(VARIABLES)), ANY_VALUE, max_size=4))
def test_no_string_makes_load_settings_fail_with_anything_but_config_error(env):
    try:
        loaded = load_settings(env)
    except ConfigError as exc:
        assert exc.variable in env and "\n" not in str(exc)
        return
    for name in env:
        attr, kind = VARIABLES[name]
        if kind in NUMBER_RULES:
            rule = NUMBER_RULES[kind]
            value = getattr(loaded, attr)
            for number in value if isinstance(value, tuple) else (value,):
                assert math.isfinite(number) and rule.minimum <= number <= rule.maximum


@pytest.mark.parametrize(("name", "value"), [
    ("HOOKLINE_PORT", "²"), ("HOOKLINE_CALLBACK_GRACE", "nan"), ("HOOKLINE_BUDGET_USD_PER_DAY", "-inf"),
    ("HOOKLINE_WEBHOOK_SCHEDULE", "5,\n٣"),
])
def test_the_cli_prints_one_line_naming_the_variable_and_exits_2(name, value, tmp_path):
    from shared.cli.main import main

    result = CliRunner().invoke(main, ["status", "x"], env={name: value, "HOOKLINE_VAR_DIR": str(tmp_path)})
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"hookline: bad setting {name}: expected "), result.output
    assert UNITS[name] in lines[0] and "Traceback" not in result.output
    assert not list(tmp_path.iterdir())  # refused before anything was opened
