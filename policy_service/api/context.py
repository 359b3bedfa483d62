"""What a request handler needs: the app's services and the authenticated caller."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import current_app, g, request

from policy_service.config import Config
from policy_service.domain.errors import PermissionDenied
from policy_service.domain.records import Caller
from policy_service.services.catalog import ProductCatalog
from policy_service.services.partners import KeyAuthenticator


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    config: Config
    engine: sa.Engine
    catalog: ProductCatalog
    authenticator: KeyAuthenticator
    clock: Callable[[], datetime] = utc_now


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
