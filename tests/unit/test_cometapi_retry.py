"""Retry policy: pure backoff, separate jitter, Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.cometapi import MAX_RETRIES, RETRY_BASE, RETRY_MAX_DELAY, backoff, jitter, parse_retry_after, retry_delay
from shared.cometapi.retry import JITTER_FRACTION, RETRY_AFTER_MAX

bases = st.floats(min_value=0.001, max_value=1e6, allow_nan=False, allow_infinity=False)


def test_the_documented_schedule() -> None:
    assert (RETRY_BASE, MAX_RETRIES) == (2.0, 3)
    assert [backoff(n) for n in range(MAX_RETRIES + 3)] == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0]


@given(st.integers(min_value=0, max_value=5000), bases)
def test_backoff_is_monotone_and_capped(retry_number: int, base: float) -> None:
    delay = backoff(retry_number, base)
    assert 0 < delay <= RETRY_MAX_DELAY
    assert backoff(retry_number + 1, base) >= delay
    assert backoff(retry_number, base) == delay  # pure: same answer every time


def test_backoff_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        backoff(-1)
    with pytest.raises(ValueError):
        backoff(0, base=0)


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False), st.integers())
def test_jitter_stays_within_its_band(delay: float, seed: int) -> None:
    jittered = jitter(delay, random.Random(seed))
    assert delay * (1 - JITTER_FRACTION) <= jittered <= delay * (1 + JITTER_FRACTION)


def test_jitter_is_pinned_by_a_seeded_rng_and_actually_varies() -> None:
    assert jitter(10.0, random.Random(42)) == jitter(10.0, random.Random(42))
    rng = random.Random(7)
    assert len({jitter(10.0, rng) for _ in range(20)}) > 1


def test_retry_delay_honours_a_larger_retry_after_only() -> None:
    rng = random.Random(1)
    assert retry_delay(0, retry_after=30.0, rng=rng) == 30.0
    small = retry_delay(0, retry_after=0.1, rng=random.Random(1))
    assert small == jitter(backoff(0), random.Random(1))
    assert retry_delay(0, retry_after=10_000.0, rng=rng) == RETRY_AFTER_MAX
    assert 1.5 <= retry_delay(0, base=2.0, rng=rng) <= 2.5


@pytest.mark.parametrize(("value", "expected"), [
    ("7", 7.0), (" 2.5 ", 2.5), ("-3", 0.0), ("", None), (None, None), ("soon", None), ("nan", None),
])
def test_parse_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2025, 10, 23, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(header, now=now) == 90.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=5), usegmt=True), now=now) == 0.0
