"""Parsers for the settings whose values are small languages of their own: model aliases and the artifact store URL.

Errors name the variable (``ConfigError``) and never echo what may be a credential."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from shared.config_numbers import shown_value
from shared.errors import ConfigError


def parse_mv_aliases(name: str, value: str) -> tuple[tuple[str, str], ...]:
    """``chirp-v3.5=chirp-v3-5,chirp-v3.0=chirp-v3-0``: model names as users write them -> as they are sent."""
    pairs: list[tuple[str, str]] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        written, sep, sent = (side.strip() for side in item.partition("="))
        if not sep or not written or not sent or any(ch.isspace() for ch in written + sent):
            raise ConfigError(name, f"expected name=name pairs separated by commas, got {shown_value(item)}")
        pairs.append((written, sent))
    return tuple(pairs)


def parse_store_url(name: str, value: str) -> str | None:
    """``file:///absolute/path`` or ``s3://bucket[/prefix]``; credentials come from the AWS_* variables, never here."""
    if not value:
        return None
    parts = urlsplit(value)
    if "@" in parts.netloc:  # never echo what may be credentials
        raise ConfigError(name, "holds user-info; S3 credentials go in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    if parts.scheme == "file" and parts.path.startswith("/") and not parts.netloc and not parts.query:
        return value.rstrip("/") or "file:///"
    if parts.scheme == "s3" and parts.hostname and not parts.username and not parts.port and not parts.query:
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", parts.netloc):
            raise ConfigError(name, f"not an S3 bucket name: {shown_value(parts.netloc)}")
        return value.rstrip("/")
    raise ConfigError(name, f"expected file:///absolute/path or s3://bucket/prefix, got {shown_value(value)}")
