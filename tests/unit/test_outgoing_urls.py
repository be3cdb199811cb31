"""Which callback URLs hookline will POST to: public hosts, plus the allowlist for private ones (SSRF guard)."""

from __future__ import annotations

import pytest

from shared.config import load_settings
from shared.errors import ValidationError
from shared.outgoing import check_callback_url, refusal_at_send

PLAIN = load_settings({})
ALLOWING_LOCAL = load_settings({"HOOKLINE_CALLBACK_ALLOWLIST": "127.0.0.1,localhost,.corp.example"})


@pytest.mark.parametrize("url", [
    "https://hooks.example.com/hookline", "http://example.org:8080/x?y=1", "https://8.8.8.8/hook",
])
def test_public_urls_are_accepted(url):
    assert check_callback_url(PLAIN, url) == url


@pytest.mark.parametrize("url, problem", [
    ("http://localhost:8000/hook", "local name"),
    ("http://127.0.0.1/hook", "not a public address"),
    ("http://127.1/hook", "not a public address"),  # inet_aton short form
    ("http://0x7f000001/hook", "not a public address"),  # hex form
    ("http://[::ffff:127.0.0.1]/hook", "not a public address"),  # IPv4-mapped IPv6
    ("http://169.254.169.254/latest/meta-data", "not a public address"),  # cloud metadata
    ("http://10.1.2.3/", "not a public address"),
    ("http://192.168.0.10/", "not a public address"),
    ("http://[::1]:9000/", "not a public address"),
    ("http://intranet/hook", "local name"),
    ("https://db.internal/x", "local name"),
    ("http://printer.local/x", "local name"),
    ("ftp://example.com/x", "http(s)"),
    ("example.com/hook", "http(s)"),
    ("https://user:pw@example.com/hook", "credentials"),
    ("https://example.com/" + "x" * 3000, "longer than"),
    ("https://exa mple.com/", "spaces"),
])
def test_refused_urls_name_the_problem(url, problem):
    with pytest.raises(ValidationError) as info:
        check_callback_url(PLAIN, url)
    assert info.value.field == "callback_url"
    assert problem in info.value.message


@pytest.mark.parametrize("value", [None, 42, "", "   ", {"url": "x"}])
def test_non_strings_are_refused(value):
    with pytest.raises(ValidationError):
        check_callback_url(PLAIN, value)


def test_allowlist_lets_private_hosts_in_and_names_subdomains():
    for url in ("http://127.0.0.1:9999/hook", "http://localhost/hook", "https://hooks.corp.example/x"):
        assert check_callback_url(ALLOWING_LOCAL, url) == url
        assert refusal_at_send(ALLOWING_LOCAL, url) is None
    with pytest.raises(ValidationError):
        check_callback_url(ALLOWING_LOCAL, "http://10.0.0.1/")  # only what is listed


def test_refusal_at_send_resolves_names():
    # Nothing resolves here (no network): a name that cannot be resolved is not sent to, and says why.
    reason = refusal_at_send(PLAIN, "https://no-such-host.invalid/hook")
    assert reason is not None and "no-such-host.invalid" in reason
    assert "not a public address" in (refusal_at_send(PLAIN, "http://127.0.0.1/x") or "")
