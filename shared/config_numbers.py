"""Numeric settings: ASCII decimals within stated bounds, with errors that name the variable and its unit.

``float()`` and ``str.isdigit()`` are too lenient for settings: they take ``nan``, ``inf``, ``1_000``, ``²`` and
``٣``. A NaN compares False with everything, so ``nan <= 0`` let a NaN grace through and a NaN budget turned the
cap off. Here a number is ``[+-]digits[.digits][e[+-]digits]`` (whole numbers: digits only), surrounding
whitespace is dropped (as for every setting), and the value must lie within its rule's bounds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from shared.errors import ConfigError


@dataclass(frozen=True)
class NumberRule:
    """How one kind of numeric setting is read: its unit (every error names it), whole or not, and its bounds."""

    unit: str  # "seconds", "USD per day"; empty for a bare number
    minimum: float
    maximum: float
    whole: bool = False
    exclusive_minimum: bool = False  # the minimum itself is refused: "greater than 0"
    note: str = ""  # shown after the maximum, e.g. "(365 days)"
    amount: str = ""  # what is expected, when "a number of <unit>" does not say it well

    def bounds(self) -> str:
        """``greater than 0 and at most 31536000 (365 days)`` or ``from 1 to 65535``."""
        low = (f"greater than {_plain(self.minimum)} and at most" if self.exclusive_minimum
               else f"from {_plain(self.minimum)} to")
        return f"{low} {_plain(self.maximum)}{self.note}"

    def describe(self) -> str:
        """What a valid value is, unit and bounds included: ``a whole number of retries from 0 to 1000``."""
        amount = self.amount or ("a whole number" if self.whole else "a number") + (
            f" of {self.unit}" if self.unit else "")
        return f"{amount} {self.bounds()}"


# A year bounds every duration: hookline adds them to datetimes and to each other (deadline + grace), and Celery
# turns them into ETAs, so 1e300 seconds would overflow a timedelta long after start-up. Rates have a floor for
# the same reason: the limiter waits 1/rate (16/rate after 429s) seconds.
YEAR_SECONDS = 365 * 24 * 3600
_SECONDS = NumberRule("seconds", 0, YEAR_SECONDS, exclusive_minimum=True, note=" (365 days)")
NUMBER_RULES: dict[str, NumberRule] = {
    "seconds": _SECONDS,
    "seconds_list": replace(_SECONDS, exclusive_minimum=False),  # each item; 0 means "at once"
    "usd_per_day": NumberRule("USD per day", 0, 1e9, exclusive_minimum=True),
    "calls_per_second": NumberRule("calls per second", 0.000001, 1e6),
    "callbacks_per_second": NumberRule("rejected callbacks per second", 0.001, 1e6),
    "calls": NumberRule("calls", 0, 1e6, exclusive_minimum=True),
    "port": NumberRule("", 1, 65535, whole=True, amount="a port number, a whole number"),
    "retries": NumberRule("retries", 0, 1000, whole=True),
    "bytes": NumberRule("bytes", 0, 2**40, whole=True, note=" (1 TiB)"),
    "tasks": NumberRule("tasks", 0, 1e6, whole=True),
    "jobs": NumberRule("jobs", 1, 1e6, whole=True),
    # Limits on what one request may ask for (HOOKLINE_MAX_*); 0 would refuse everything, so 1 is the floor.
    "steps": NumberRule("steps", 1, 10**6, whole=True),
    "branches": NumberRule("branches", 1, 10**6, whole=True),
    "lines": NumberRule("lines", 1, 10**9, whole=True),
    "characters": NumberRule("characters", 1, 10**9, whole=True),
    "days": NumberRule("days", 1, 36500, whole=True),  # HOOKLINE_RETENTION_DAYS: today's ledger is never pruned
    # Unit-less kinds, for a new setting whose unit has no rule yet (prefer adding one: errors should name it).
    "positive_float": NumberRule("", 0, 1e9, exclusive_minimum=True),
    "nonneg_int": NumberRule("", 0, 10**9, whole=True),
}


# ASCII digits only: str.isdigit() and float() also take "²", "٣", "1_000", "nan" and "inf".
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_WHOLE = re.compile(r"[0-9]+")
_MAX_WHOLE_DIGITS = 30  # longer is over every maximum (and int() refuses past 4,300 digits)


def _plain(number: float) -> str:
    """``31536000`` and ``0.000001``, not ``3.1536e+07`` and ``1e-06``."""
    return f"{number:f}".rstrip("0").rstrip(".")


def shown_value(raw: str) -> str:
    """The value as typed, escaped (one line) and shortened."""
    text = repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_number(rule: NumberRule, text: str) -> float | int | None:
    """The number ``text`` (already stripped) holds under ``rule``, or None: not an ASCII decimal, or out of bounds."""
    if not (_WHOLE if rule.whole else _DECIMAL).fullmatch(text):
        return None
    number: float | int
    if rule.whole:
        digits = text.lstrip("0")
        number = int(digits or "0") if len(digits) <= _MAX_WHOLE_DIGITS else math.inf
    else:
        number = float(text) + 0.0  # "1e999" is inf, refused below; + 0.0 turns -0.0 into 0.0
    above = number > rule.minimum if rule.exclusive_minimum else number >= rule.minimum
    return number if above and number <= rule.maximum else None


def parse_numeric_setting(kind: str, name: str, raw: str) -> float | int | tuple[float, ...]:
    """The value of variable ``name`` of kind ``kind`` (a key of NUMBER_RULES); ConfigError naming it and its unit."""
    value = raw.strip()  # surrounding whitespace is dropped, as for every setting
    if kind == "seconds_list":
        rule = NUMBER_RULES[kind]
        items = [item.strip() for item in value.split(",") if item.strip()]
        numbers = [parse_number(rule, item) for item in items]
        bad = [item for item, number in zip(items, numbers, strict=True) if number is None]
        if not items or bad:
            which = f" ({bad[0]!r} is not)" if bad else ""
            raise ConfigError(name, f"expected comma-separated seconds, each {rule.bounds()}, "
                                    f"got {shown_value(raw)}{which}")
        return tuple(float(n) for n in numbers if n is not None)
    rule = NUMBER_RULES[kind]
    number = parse_number(rule, value)
    if number is None:
        raise ConfigError(name, f"expected {rule.describe()}, got {shown_value(raw)}")
    return number
