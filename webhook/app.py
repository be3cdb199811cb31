"""The receiver's app factory: defaults, then the environment, then the test dict."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from shared.config import Settings, load_settings
from webhook.hooks import MAX_CALLBACK_BYTES
from webhook.source_limits import build_source_limiter


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_CALLBACK_BYTES, JSON_SORT_KEYS=False)
    config = dict(config or {})
    settings = config.pop("HOOKLINE_SETTINGS", None)
    if not isinstance(settings, Settings):
        settings = load_settings()
    app.config.update(config)
    app.extensions["hookline.settings"] = settings
    app.extensions["hookline.source_limiter"] = build_source_limiter(settings)
    if settings.trusted_proxies:  # else X-Forwarded-For is anyone's to forge: the peer address is the source
        # X-Forwarded-Proto too: behind a TLS proxy, request.is_secure makes the dashboard cookies Secure.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies,  # type: ignore[method-assign]
                                x_proto=settings.trusted_proxies)

    from webhook.api import api
    from webhook.health import health
    from webhook.hooks import hooks

    app.register_blueprint(hooks)
    app.register_blueprint(api)
    app.register_blueprint(health)
    from webhook.dashboard import dashboard
    from webhook.metrics import metrics

    app.register_blueprint(dashboard)
    app.register_blueprint(metrics)
    logging.getLogger("hookline").setLevel(settings.log_level)
    return app
