"""The account's remaining balance, from CometAPI's balance query, for ``hookline costs``.

``GET https://query.cometapi.com/user/quota?key=<API key>`` answers ``{"total_quota": <USD left>,
"total_used_quota", "request_count", "keys": [...]}`` (CometAPI's "Account Balance Query API"). It lives on its own
host: COMETAPI_BALANCE_URL, by default query.cometapi.com for the real service and the base URL's own host for
anything else (a gateway, the sandbox). Where nothing answers it, the balance is "unknown", never an error.
The key travels in the query string, so no URL or exception text of this request is ever shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests

from shared.cometapi.endpoints import ENDPOINTS

if TYPE_CHECKING:
    from shared.config import Settings

COMETAPI_HOST_BASE = "https://api.cometapi.com"
COMETAPI_BALANCE_BASE = "https://query.cometapi.com"
BALANCE_TIMEOUT = (3.0, 5.0)  # connect, read: `hookline costs` must not hang on it


@dataclass(frozen=True)
class Balance:
    """``remaining_usd`` None means unknown, and ``detail`` says why."""

    remaining_usd: float | None
    used_usd: float | None = None
    detail: str = ""

    def shown(self) -> str:
        if self.remaining_usd is None:
            return f"unknown ({self.detail})" if self.detail else "unknown"
        used = f", ${self.used_usd:.3f} used" if self.used_usd is not None else ""
        return f"${self.remaining_usd:.3f} left{used} (upstream balance query)"


def balance_base_url(settings: Settings) -> str:
    if settings.balance_url:
        return settings.balance_url.rstrip("/")
    base = settings.base_url.rstrip("/")
    return COMETAPI_BALANCE_BASE if base == COMETAPI_HOST_BASE else base


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def query_balance(settings: Settings, *, session: requests.Session | None = None) -> Balance:
    """The upstream's answer to the balance query, or an unknown Balance saying why (never raises)."""
    base = balance_base_url(settings)
    host = urlsplit(base).hostname or base
    if not settings.api_key and base == COMETAPI_BALANCE_BASE:
        return Balance(None, detail="COMETAPI_KEY is unset")
    getter = session or requests
    try:
        response = getter.get(base + ENDPOINTS["balance"].path, params={"key": settings.api_key or ""},
                              timeout=BALANCE_TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        return Balance(None, detail=f"{host} did not answer the balance query ({type(exc).__name__})")
    if response.status_code != 200:
        return Balance(None, detail=f"{host} answered the balance query with HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        return Balance(None, detail=f"{host} answered the balance query with something that is not JSON")
    remaining = _number(body.get("total_quota")) if isinstance(body, dict) else None
    if remaining is None:
        return Balance(None, detail=f"{host}'s balance answer has no total_quota")
    return Balance(remaining, _number(body.get("total_used_quota")))
