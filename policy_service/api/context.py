"""What a request handler needs: the app's services and the authenticated caller."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import current_app, g, request

from policy_service.adapters.stripe_gateway import StripeGateway
from policy_service.config import Config
from policy_service.domain.errors import PermissionDenied
from policy_service.domain.records import Caller
from policy_service.services.catalog import ProductCatalog
from policy_service.services.claims import ClaimsContext, claims_context
from policy_service.services.partners import KeyAuthenticator
from policy_service.services.payments import Billing


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    config: Config
    engine: sa.Engine
    catalog: ProductCatalog
    authenticator: KeyAuthenticator
    clock: Callable[[], datetime] = utc_now
    gateway: StripeGateway | None = None

    def claims(self) -> ClaimsContext:
        from . import render

        return claims_context(
            self.config,
            self.engine,
            self.catalog,
            render.claim,
            lambda p: render.policy(p, self.catalog.edition(p.product_code, p.edition)),
        )

    def billing(self) -> Billing:
        from . import render
        from .errors import error_body

        return Billing(
            self.engine,
            self.gateway,
            lambda p: render.policy(p, self.catalog.edition(p.product_code, p.edition)),
            error_body,
            self.config.settlement_timezone,
        )


def services() -> Services:
    return current_app.extensions["policy_service"]


def caller(scope: str) -> Caller:
    """The authenticated caller, who must hold `scope`."""
    found: Caller | None = g.get("caller")
    if found is None:
        found = services().authenticator.authenticate(request.headers.get("Authorization"))
        g.caller = found
    if not found.may(scope):
        raise PermissionDenied(f"this API key lacks the {scope} scope")
    return found
