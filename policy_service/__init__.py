"""policy-service: scenario micro-insurance, quoted and issued per transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from flask import Flask

from .config import Config, load_config

if TYPE_CHECKING:
    from .adapters.stripe_gateway import StripeGateway

__all__ = ["create_app"]


def stripe_gateway(config: Config) -> StripeGateway | None:
    """The payment API client, when STRIPE_API_KEY is set."""
    from .adapters.stripe_gateway import StripeGateway

    if not config.stripe_api_key:
        return None
    return StripeGateway(
        config.stripe_api_key, config.stripe_api_base, config.stripe_timeout_seconds
    )


def create_app(config: Config | None = None, clock: Callable[[], datetime] | None = None) -> Flask:
    """Build the WSGI app. On SQLite (the embedded default) the database is created and
    migrated on first start; on PostgreSQL run `policy-service db upgrade` (serve does it)."""
    from .adapters.db import create_db_engine, upgrade
    from .api import register_api
    from .api.context import Services, utc_now
    from .ops import register_console
    from .services.catalog import ProductCatalog
    from .services.partners import KeyAuthenticator

    config = config or load_config()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.config["TESTING"] = config.testing
    engine = create_db_engine(config.database_url)
    if config.is_sqlite:
        upgrade(engine)
    clock = clock or utc_now
    catalog = ProductCatalog(config.products_dir, engine, config.products_reload_seconds, clock)
    catalog.reload()
    app.extensions["policy_service"] = Services(
        config,
        engine,
        catalog,
        KeyAuthenticator(engine, config.api_key_cache_seconds),
        clock,
        stripe_gateway(config),
    )
    register_api(app)
    register_console(app, config)
    return app
