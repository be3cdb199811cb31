from __future__ import annotations

from shared.config import load_settings
from shared.jobs.hook_urls import hook_token, notify_hook_url, redact_hook_url, verify_hook_token
from webhook.serving import redact_path


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
    assert token not in redact_path(line) and "/hooks/cometapi/j/3/<token>" in redact_path(line)
