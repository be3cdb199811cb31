"""Where a producer's ``callback_url`` may point: any public host, plus HOOKLINE_CALLBACK_ALLOWLIST for the rest.

Hookline POSTs to whatever a producer names, so this is an SSRF guard:
- http or https only, a host, no credentials in the URL, at most 2,048 characters;
- a host named in ``HOOKLINE_CALLBACK_ALLOWLIST`` (exact name, or ``.example.com`` / ``*.example.com`` for its
  subdomains) is always allowed, private addresses included: that is how ``localhost`` or an internal service is
  let in (the tests allowlist ``127.0.0.1``);
- any other host must be public: ``localhost``, one-label names, ``*.localhost``/``.local``/``.internal`` and
  loopback, private, link-local, shared, reserved, multicast addresses (in any spelling: ``127.1``, ``0x7f000001``,
  IPv4-mapped IPv6…) are refused.

``check_callback_url`` runs when the URL is given and never looks up DNS (a bad name cannot stall a request).
``refusal_at_send`` runs before every delivery and also refuses names that *resolve* to non-public addresses
(through ``shared.net.url_guard``). The POST itself resolves the name again; an attacker who
controls DNS could still race that window, which is why private targets need the allowlist, not just a name.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from shared.config import Settings
from shared.errors import HooklineError, ValidationError
from shared.net import url_guard

MAX_URL_LENGTH = 2048
LOCAL_NAMES = ("localhost", "localhost.localdomain")
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")
ALLOWLIST_HINT = "; add the host to HOOKLINE_CALLBACK_ALLOWLIST to allow it"


def normalise_host(host: str) -> str:
    try:
        return url_guard.normalise_host(host)
    except HooklineError as exc:
        raise ValidationError(str(exc), field="callback_url") from None


def is_public_address(address: str) -> bool:
    return url_guard.is_public_address(ipaddress.ip_address(address.split("%", 1)[0]))


def host_is_allowlisted(host: str, allowlist: tuple[str, ...]) -> bool:
    return url_guard.host_on_allowlist(host.lower().rstrip("."), allowlist)


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def check_callback_url(settings: Settings, url: object, *, field: str = "callback_url") -> str:
    """The URL (stripped) when hookline may POST events to it; else ValidationError naming ``field``."""
    if not isinstance(url, str) or not url.strip():
        raise ValidationError("must be an http(s) URL", field=field)
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise ValidationError(f"longer than {MAX_URL_LENGTH} characters", field=field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(f"not a valid URL ({exc})", field=field) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("must be an http(s) URL with a host", field=field)
    if parts.username is not None or parts.password is not None:
        raise ValidationError("credentials in the URL are not allowed (they would be stored and shown)", field=field)
    if port == 0:
        raise ValidationError("port 0 is not allowed", field=field)
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ValidationError("must not contain spaces or control characters", field=field)
    try:
        host = normalise_host(parts.hostname)
    except ValidationError as exc:
        raise ValidationError(exc.message, field=field) from None
    if host_is_allowlisted(host, settings.callback_allowlist):
        return url
    literal = _ip_literal(host)
    if literal is not None:
        if not is_public_address(literal):
            raise ValidationError(f"{host} is not a public address{ALLOWLIST_HINT}", field=field)
        return url
    if host in LOCAL_NAMES or host.endswith(LOCAL_SUFFIXES) or "." not in host:
        raise ValidationError(f"{host} is a local name{ALLOWLIST_HINT}", field=field)
    return url


def _resolve(host: str, port: int) -> list[str]:
    return url_guard.system_resolve(host, port)


def refusal_at_send(settings: Settings, url: str) -> str | None:
    """Why ``url`` may not be called right now (None: go ahead). Resolves the name, so a public-looking name that
    points at a private address is refused too."""
    try:
        check_callback_url(settings, url)
    except ValidationError as exc:
        return exc.message
    parts = urlsplit(url.strip())
    host = normalise_host(parts.hostname or "")
    if host_is_allowlisted(host, settings.callback_allowlist) or _ip_literal(host):
        return None  # allowlisted, or a literal already checked above
    try:
        addresses = _resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
    except HooklineError as exc:
        return str(exc)
    except (OSError, UnicodeError) as exc:
        return f"cannot resolve {host}: {exc}"
    private = [a for a in addresses if not is_public_address(a)]
    if not addresses:
        return f"{host} resolves to no address"
    if private:
        return f"{host} resolves to a non-public address ({', '.join(private)}){ALLOWLIST_HINT}"
    return None
