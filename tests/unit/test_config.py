from __future__ import annotations

import os
import stat

import pytest

from shared.config import VARIABLES, hook_secret, load_settings
from shared.errors import ConfigError


def test_defaults_need_no_servers():
    s = load_settings({})
    assert s.base_url == "https://api.cometapi.com"
    assert s.database_url == "sqlite:///var/hookline.db"
    assert s.broker_url.startswith("hookline-sqla+sqlite:///var/")
    assert s.public_url is None and s.polling_mode
    assert s.port == 8000 and s.embedded_broker


@pytest.mark.parametrize(("name", "value"), [
    ("HOOKLINE_PORT", "eighty"), ("HOOKLINE_PORT", "70000"), ("COMETAPI_BASE_URL", "not a url"),
    ("HOOKLINE_PUBLIC_URL", "ftp://x"), ("HOOKLINE_PUBLIC_URL", "http://host:port"),
    ("HOOKLINE_DATABASE_URL", "::nonsense::"), ("HOOKLINE_BROKER_URL", "localhost"),
    ("HOOKLINE_RECONCILE_INTERVAL", "-1"), ("HOOKLINE_CALLBACK_GRACE", "soon"),
])
def test_bad_value_names_the_variable(name, value):
    with pytest.raises(ConfigError) as err:
        load_settings({name: value})
    assert err.value.variable == name and name in str(err.value)


def test_secrets_are_not_in_repr():
    s = load_settings({"COMETAPI_KEY": "sk-secretsecret", "HOOKLINE_HOOK_SECRET": "hooksecret"})
    assert "sk-secretsecret" not in repr(s) and "hooksecret" not in repr(s)


def test_generated_hook_secret_is_stable_and_private(tmp_path):
    s = load_settings({"HOOKLINE_VAR_DIR": str(tmp_path)})
    first = hook_secret(s)
    assert first == hook_secret(s) and len(first) >= 32
    mode = stat.S_IMODE(os.stat(tmp_path / "hook_secret").st_mode)
    assert mode == 0o600


def test_every_variable_maps_to_a_settings_field():
    fields = set(load_settings({}).__dataclass_fields__)
    assert {attr for attr, _ in VARIABLES.values()} <= fields
