"""The one exception tree of hookline: every error we raise derives from HooklineError."""

from __future__ import annotations

from typing import Any


class HooklineError(Exception):
    """Root of every error hookline raises on purpose."""


class ConfigError(HooklineError):
    """A setting from the environment is missing or malformed."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        super().__init__(f"{variable}: {problem}")


class ValidationError(HooklineError):
    """Input from a producer (CLI, HTTP, spec, bulk line) is not acceptable; nothing was changed."""

    def __init__(self, message: str, *, field: str | None = None, where: str | None = None) -> None:
        self.field = field
        self.where = where
        self.message = message
        prefix = ": ".join(p for p in (where, field) if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class NotFound(HooklineError):
    """The named job (or other record) does not exist."""


class UpstreamError(HooklineError):
    """The CometAPI upstream answered with an error, or could not be reached."""

    retryable: bool = False
    # Whether the request reached the upstream: False means nothing was sent (safe to retry), None means unknown.
    sent: bool | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body_excerpt: str | None = None,
        operation: str | None = None,
        task_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.body_excerpt = body_excerpt
        self.operation = operation
        self.task_id = task_id
        self.retry_after = retry_after
        where = f" ({operation})" if operation else ""
        code = f"HTTP {status}: " if status is not None else ""
        super().__init__(f"upstream{where}: {code}{message}")


class BadRequest(UpstreamError):
    """The request is malformed or names a bad field (400/404/413, or caught before sending)."""

    def __init__(self, message: str, *, field: str | None = None, **kw: Any) -> None:
        self.field = field
        super().__init__(message, **kw)


class AuthFailed(UpstreamError):
    """The API key was refused or is disabled (401/403)."""


class RateLimited(UpstreamError):
    """The upstream said 429: slow down and try again."""

    retryable = True


class UpstreamUnavailable(UpstreamError):
    """The upstream failed or was unreachable in a way that is safe to retry (5xx, 524, refused connection)."""

    retryable = True


class ModelUnavailable(UpstreamError):
    """503 "no available channel": the model is not offered to this account group. Retrying cannot help (the API
    docs retry only 429, 500, 504 and 524): the job fails at once, with the upstream's message and a hint."""

    HINT = "the model is not available to this account's group: choose another mv, or change the account group"


class AmbiguousSubmit(UpstreamError):
    """A paid request may have been accepted but we never saw the answer (read timeout, reset after send)."""


class CallbackRejected(HooklineError):
    """An inbound callback failed a check; nothing was written to job state."""

    def __init__(self, http_status: int, reason: str) -> None:
        self.http_status = http_status
        self.reason = reason
        super().__init__(f"callback rejected ({http_status}): {reason}")
