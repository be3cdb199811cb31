"""Serving the receiver without leaking capability tokens into access logs."""

from __future__ import annotations

from werkzeug.serving import WSGIRequestHandler

from shared.redaction import redact_tokens


class RedactingRequestHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: object) -> None:  # `type`: werkzeug's parameter name
        super().log(type, redact_tokens(message % args if args else message))
