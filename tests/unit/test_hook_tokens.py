from __future__ import annotations

from shared.config import load_settings
from shared.jobs.hook_urls import hook_token, notify_hook_url, redact_hook_url, verify_hook_token
from shared.redaction import redact_secrets, redact_tokens


def test_token_binds_job_and_attempt():
    secret = b"k"
    token = hook_token(secret, "job1", 1)
    assert verify_hook_token(secret, "job1", 1, token)
    assert not verify_hook_token(secret, "job1", 2, token)
    assert not verify_hook_token(secret, "job2", 1, token)
    assert not verify_hook_token(b"other", "job1", 1, token)
    assert "=" not in token and len(token) == 43


def test_notify_hook_only_with_public_url(tmp_path):
    polling = load_settings({"HOOKLINE_VAR_DIR": str(tmp_path)})
    assert notify_hook_url(polling, "j", 1) is None
    s = load_settings({"HOOKLINE_VAR_DIR": str(tmp_path), "HOOKLINE_PUBLIC_URL": "https://hooks.example.com/"})
    url = notify_hook_url(s, "j", 3)
    assert url.startswith("https://hooks.example.com/hooks/cometapi/j/3/")
    token = url.rsplit("/", 1)[1]
    assert redact_hook_url(url).endswith("/j/3/<token>") and token not in redact_hook_url(url)
    line = f'127.0.0.1 - - "POST /hooks/cometapi/j/3/{token} HTTP/1.1" 200 -'
    assert token not in redact_tokens(line) and "/hooks/cometapi/j/3/<token>" in redact_tokens(line)


def test_one_redaction_cuts_every_shape_of_token() -> None:
    token = "AbC-_123"
    for text, kept in [
        (f"hit /hooks/cometapi/j/1/{token}", "/hooks/cometapi/j/1/<token>"),
        (f'"POST /hooks/cometapi/j/1/{token}?x=1 HTTP/1.1"', "/hooks/cometapi/j/1/<token>?x=1 HTTP/1.1"),
        (f"url='https://h.example/hooks/cometapi/j/2/{token}'", "https://h.example/hooks/cometapi/j/2/<token>"),
        (f"/hooks/cometapi/j/2/{token}/extra", "/hooks/cometapi/j/2/<token>"),
    ]:
        assert token not in redact_tokens(text) and kept in redact_tokens(text)


def test_secret_looking_keys_are_redacted_at_any_depth() -> None:
    value = {"prompt": "hi", "notify_hook": "u", "nested": [{"api_key": "k", "ok": 1}], "Signature": "s"}
    assert redact_secrets(value) == {"prompt": "hi", "notify_hook": "[redacted]",
                                     "nested": [{"api_key": "[redacted]", "ok": 1}], "Signature": "[redacted]"}
