"""The ops console at /ops: server-rendered pages (Jinja, vendored htmx) where staff review
claims, look up policies and watch the book. Every action calls the same service function
as the /v1/ops API; this package only translates forms to calls and results to pages."""

from __future__ import annotations

from flask import Flask

from policy_service.config import Config

from . import (
    auth_views,
    claim_views,
    dashboard_views,
    incident_views,
    policy_views,
    staff_views,
)
from .blueprint import bp
from .security import configure_sessions

__all__ = ["register_console"]

# Imported for their routes on `bp`.
_VIEWS = (auth_views, claim_views, dashboard_views, incident_views, policy_views, staff_views)


def register_console(app: Flask, config: Config) -> None:
    configure_sessions(
        app, config.session_secret, config.session_hours, config.session_cookie_secure
    )
    app.register_blueprint(bp)
