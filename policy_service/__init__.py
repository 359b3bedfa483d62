"""policy-service: scenario micro-insurance, quoted and issued per transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Flask

from .config import Config

__all__ = ["create_app"]


def create_app(config: Config | None = None, clock: Callable[[], datetime] | None = None) -> Flask:
    """Build the WSGI app on the parts bootstrap() wires (see bootstrap.py)."""
    from .api import register_api
    from .api.request_log import register_request_log
    from .bootstrap import bootstrap, configure_logging
    from .ops import register_console

    services = bootstrap(config, clock)
    configure_logging(services.config)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = services.config.max_body_bytes
    app.config["TESTING"] = services.config.testing
    app.extensions["policy_service"] = services
    register_request_log(app)
    register_api(app)
    register_console(app, services.config)
    if services.config.trusted_proxies:
        # the client's address from X-Forwarded-For, as set by that many proxies in front
        # (login throttling, logs); never trusted without them
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=services.config.trusted_proxies
        )
    return app
