"""Serving the receiver without leaking capability tokens into access logs."""

from __future__ import annotations

import re

from werkzeug.serving import WSGIRequestHandler

_HOOK_TOKEN = re.compile(r"(/hooks/cometapi/[^/\s]+/[^/\s]+/)[^\s?\"]+")


def redact_path(text: str) -> str:
    """Replace the token segment of any callback URL in ``text`` with <token>."""
    return _HOOK_TOKEN.sub(r"\1<token>", text)


class RedactingRequestHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: object) -> None:  # noqa: A002 - werkzeug's signature
        super().log(type, redact_path(message % args if args else message))
