"""Redaction: the one place that decides what a secret looks like, in text and in data.

- ``redact_tokens(text)``: the capability token of every callback URL in ``text`` becomes ``<token>``. Logs (both
  formats), the dev server's access log and the ledger's copy of a notify_hook all go through it.
- ``redact_secrets(value)``: a copy of a JSON-like value with every value under a secret-looking key replaced by
  ``[redacted]``, at any depth (the dashboard shows job params and results this way).

The CometAPI client scrubs its own API key from error messages: that key is a value it holds, not a shape to find.
"""

from __future__ import annotations

import re
from typing import Any

TOKEN = "<token>"
REDACTED = "[redacted]"

# /hooks/cometapi/<job_id>/<attempt>/<token> (shared.jobs.hook_urls.HOOK_PATH). The token is everything after the
# attempt up to whitespace, a query string or a double quote: a real token is base64url, but whatever a caller
# glued to it is cut with it, so no part of a token can survive in a log line.
_HOOK_TOKEN = re.compile(r"(/hooks/cometapi/[^/\s]+/[^/\s]+/)[^\s?\"]+")
# An API key in a query string (CometAPI's balance query is GET /user/quota?key=<API key>).
_QUERY_KEY = re.compile(r"([?&](?:key|api_key|apikey|token)=)[^&\s\"]+", re.IGNORECASE)
SECRET_NAME = re.compile(r"key|secret|token|notify_hook|password|authorization|signature", re.IGNORECASE)


def redact_tokens(text: str) -> str:
    """``text`` with the token segment of every callback URL, and every ``?key=`` query value, replaced."""
    return _QUERY_KEY.sub(r"\1" + REDACTED, _HOOK_TOKEN.sub(r"\1" + TOKEN, text))


def redact_secrets(value: Any) -> Any:
    """A copy with every value under a secret-looking key (key, secret, token, notify_hook, …) replaced."""
    if isinstance(value, dict):
        return {k: REDACTED if SECRET_NAME.search(str(k)) else redact_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_secrets(v) for v in value]
    return value
