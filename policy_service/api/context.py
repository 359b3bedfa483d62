"""What a request handler needs: the app's services and the authenticated caller."""

from __future__ import annotations

from flask import current_app, g, request

from policy_service.bootstrap import Services
from policy_service.domain.errors import PermissionDenied
from policy_service.domain.records import Caller

__all__ = ["Services", "caller", "services"]


def services() -> Services:
    services: Services = current_app.extensions["policy_service"]
    return services


def caller(scope: str) -> Caller:
    """The authenticated caller, who must hold `scope`."""
    found: Caller | None = g.get("caller")
    if found is None:
        found = services().authenticator.authenticate(request.headers.get("Authorization"))
        g.caller = found
    if not found.may(scope):
        raise PermissionDenied(f"this API key lacks the {scope} scope")
    return found
