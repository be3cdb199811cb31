"""Did a failed request reach the upstream? The answer decides between a retry and AmbiguousSubmit.

Not sent: the TCP/TLS connection never came up (refused, DNS failure, connect timeout,
proxy or TLS handshake failure). Nothing can have been charged, so a resend is safe.
Sent: the connection was up and the request went out, then the answer was lost (read
timeout, the peer closed or reset the connection, a truncated body). The upstream may
have accepted it. When unsure, say "sent": for a paid call that is the answer that never
pays twice.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from http.client import RemoteDisconnected

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError, ProtocolError

NOT_SENT_REQUEST_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.ConnectTimeout,
    requests.exceptions.SSLError,  # handshake failed: no HTTP bytes went out
    requests.exceptions.ProxyError,
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
)
SENT_REQUEST_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.ReadTimeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
# Causes found inside a requests.ConnectionError (the urllib3 error, then the socket error).
NOT_SENT_CAUSES: tuple[type[BaseException], ...] = (
    NewConnectionError,  # includes NameResolutionError; a subclass of ConnectTimeoutError in urllib3 2
    ConnectTimeoutError,
    ConnectionRefusedError,
    socket.gaierror,
)
SENT_CAUSES: tuple[type[BaseException], ...] = (
    ProtocolError,  # "Connection aborted." wrapping RemoteDisconnected / ConnectionResetError
    RemoteDisconnected,
    ConnectionResetError,
    ConnectionAbortedError,
    BrokenPipeError,
)


def request_was_sent(exc: BaseException) -> bool:
    """True when the request may have reached the upstream before ``exc`` (a requests error) happened."""
    if isinstance(exc, NOT_SENT_REQUEST_ERRORS):
        return False
    if isinstance(exc, SENT_REQUEST_ERRORS):
        return True
    for cause in _causes(exc):
        if isinstance(cause, NOT_SENT_CAUSES):
            return False
        if isinstance(cause, SENT_CAUSES):
            return True
    return True


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions wrapped by ``exc``, nearest first: args, MaxRetryError.reason, __cause__, __context__."""
    seen: set[int] = {id(exc)}
    queue: list[BaseException] = [exc]
    while queue:
        current = queue.pop(0)
        wrapped: list[object] = list(current.args)
        if isinstance(current, MaxRetryError):
            wrapped.append(current.reason)
        wrapped += [current.__cause__, current.__context__]
        for item in wrapped:
            if isinstance(item, BaseException) and id(item) not in seen:
                seen.add(id(item))
                yield item
                queue.append(item)
