"""The composition root: the one place that builds the service's parts and wires them.

Configuration, the database and its unit of work, the product catalog, the payment
gateway, the key authenticator and the renderers are made here, once, for the web app
(`create_app`), the worker and the CLI. Everything below takes what it needs as an
argument; nothing else reads the environment or opens a database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .adapters.db import create_db_engine, current_revision, upgrade
from .adapters.rate_limiter import RateLimiter
from .adapters.stripe_gateway import StripeGateway
from .adapters.unit_of_work import SqlUnitOfWork
from .config import Config, load_config
from .domain.records import Policy
from .presentation import logs, render
from .presentation.endorsements import endorsement
from .presentation.errors import error_body
from .services import policies
from .services.billing import Billing
from .services.catalog import ProductCatalog
from .services.claims import ClaimsContext, claims_context
from .services.issuing import Issuing
from .services.partners import KeyAuthenticator
from .services.staff import LoginThrottle


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """What the use cases need, built once per process."""

    config: Config
    uow: SqlUnitOfWork
    catalog: ProductCatalog
    authenticator: KeyAuthenticator
    clock: Callable[[], datetime] = utc_now
    gateway: StripeGateway | None = None
    #: request counts for the rate limits (per process, or in Redis: REDIS_URL)
    rate_limiter: RateLimiter = field(default_factory=RateLimiter)

    @property
    def login_throttle(self) -> LoginThrottle:
        return LoginThrottle(self.rate_limiter, self.config.login_rate_per_ip)

    def render_policy(self, policy: Policy) -> dict[str, Any]:
        """A policy as the API, its events and webhooks show it (with its edition's terms,
        and its worksheet, made again if it was not stored)."""
        return render.policy(
            policies.completed(self.catalog, policy),
            self.catalog.edition(policy.product_code, policy.edition),
        )

    # Built on each call (cheap), so that they always follow the current config.
    def claims(self) -> ClaimsContext:
        return claims_context(self.config, self.uow, self.catalog, render.claim, self.render_policy)

    def billing(self) -> Billing:
        return Billing(
            self.uow,
            self.gateway,
            self.render_policy,
            error_body,
            self.config.settlement_timezone,
            self.catalog,
            lambda e, p: endorsement(e, self.render_policy(p)),
        )

    def issuing(self) -> Issuing:
        return Issuing(
            self.uow,
            self.catalog,
            self.config.pii_hash_key,
            self.clock,
            self.config.settlement_timezone,
            lambda p: (201, self.render_policy(p)),
            error_body,
        )

    def dispose(self) -> None:
        """Close the database connections (tests and short-lived commands)."""
        self.uow.dispose()


def stripe_gateway(config: Config) -> StripeGateway | None:
    """The payment API client, when STRIPE_API_KEY is set."""
    if not config.stripe_api_key:
        return None
    return StripeGateway(
        config.stripe_api_key, config.stripe_api_base, config.stripe_timeout_seconds
    )


def configure_logging(config: Config | None = None) -> None:
    logs.configure((config or load_config()).log_format)


def migrate_database(config: Config) -> str | None:
    """Apply every migration (PostgreSQL: under an advisory lock); returns the revision."""
    engine = create_db_engine(config.database_url)
    try:
        upgrade(engine)
        return current_revision(engine)
    finally:
        engine.dispose()


def bootstrap(
    config: Config | None = None,
    clock: Callable[[], datetime] | None = None,
    *,
    pool_size: int = 5,
    load_products: bool = True,
    reload_seconds: int | None = None,
) -> Services:
    """Build the service's parts. On SQLite (the embedded default) the database is created
    and migrated here; on PostgreSQL `policy-service db upgrade` does it (serve runs it).
    `load_products=False` is for commands that only manage the database; `reload_seconds`
    overrides how often the catalog looks for new files and publications."""
    config = config or load_config()
    engine = create_db_engine(config.database_url, pool_size=pool_size)
    if config.is_sqlite:
        upgrade(engine)
    uow = SqlUnitOfWork(engine)
    clock = clock or utc_now
    catalog = ProductCatalog(
        config.products_dir,
        uow,
        config.products_reload_seconds if reload_seconds is None else reload_seconds,
        clock,
    )
    if load_products:
        catalog.reload()
    return Services(
        config,
        uow,
        catalog,
        KeyAuthenticator(uow, config.api_key_cache_seconds, clock),
        clock,
        stripe_gateway(config),
        RateLimiter(config.redis_url),
    )
