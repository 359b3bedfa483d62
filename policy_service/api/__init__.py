"""The partner HTTP API under /v1: one blueprint per resource."""

from __future__ import annotations

import copy
import hmac
from typing import Any

from flask import Flask, Response, g, jsonify, request, send_from_directory
from flask.typing import ResponseReturnValue
from flask_smorest import Api
from swagger_ui_bundle import swagger_ui_path

from policy_service.domain.errors import PermissionDenied, RateLimited
from policy_service.domain.records import Caller
from policy_service.presentation import api_language
from policy_service.presentation.request_guard import check_request_text

from ..services import metrics, staff
from ..services.health import readiness
from . import (
    api_keys,
    claims,
    endorsements,
    events,
    ops,
    policies,
    privacy,
    products,
    quotes,
    statements,
    stripe_webhooks,
    trigger_events,
    webhook_endpoints,
)
from .context import services
from .docs import add_static_schemas, postprocess
from .errors import register_error_handlers
from .query_guard import check_query_parameters
from .schemas import ErrorSchema

API_DESCRIPTION = """\
Quote and issue per-transaction micro-insurance policies.

Authenticate with `Authorization: Bearer sk_test_...` (test mode) or `sk_live_...` (live
mode); each mode sees only its own objects. Data providers post trigger events with
`dk_live_...` keys; ops staff use `/v1/ops` with `ops_...` staff tokens. Money is always
`{"amount": "1.23", "currency": "CNY"}`, timestamps are ISO 8601 UTC. Every POST accepts an
`Idempotency-Key`. Errors share one shape:
`{"error": {"type", "code", "message", "param"}}`.
"""


class PolicyServiceApi(Api):
    """flask-smorest's Api, serving the spec with the per-product risk schemas filled in."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        """Errors are rendered by api/errors.py, in our one shape."""

    def openapi_dict(self) -> dict[str, Any]:
        assert self.spec is not None
        catalog = services().catalog
        catalog.maybe_reload()
        # a copy: apispec hands out its own dicts, and the products in force change
        spec = copy.deepcopy(self.spec.to_dict())
        return postprocess(spec, catalog.all(), catalog.trigger_types())

    def _openapi_json(self) -> ResponseReturnValue:
        return jsonify(self.openapi_dict())


def _limit(caller: Caller) -> None:
    """Count the request against its key's rate limit: the partner's own, else the
    service's default (none: not limited)."""
    svc = services()
    limit = caller.rate_limit or svc.config.rate_limit_default
    if limit is None:
        return
    window = svc.rate_limiter.hit(limit, "api-key", caller.key_id)
    g.rate_window = window
    if not window.allowed:
        raise RateLimited(
            f"more than {limit} requests with this API key: retry in {window.reset_seconds} s",
            retry_after=window.reset_seconds,
        )


def register_api(app: Flask) -> PolicyServiceApi:
    app.config.update(
        API_TITLE="policy-service",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="/docs/assets/",
    )
    api = PolicyServiceApi(
        app,
        spec_kwargs={
            "info": {"description": API_DESCRIPTION},
            "servers": [{"url": "/", "description": "this service"}],
        },
    )
    for module in (
        products,
        quotes,
        policies,
        endorsements,
        events,
        webhook_endpoints,
        statements,
        trigger_events,
        claims,
        ops,
        stripe_webhooks,
        api_keys,
        privacy,
    ):
        api.register_blueprint(module.blp)
    app.extensions["policy_service_api"] = api
    add_static_schemas(api)
    register_error_handlers(app)

    @app.before_request
    def _authenticate_and_refresh() -> ResponseReturnValue | None:
        if request.path.startswith("/v1/ops/"):
            # Staff tokens, never partner keys: the ops API sees every partner's claims.
            g.staff = staff.authenticate_token(services().uow, request.headers.get("Authorization"))
            check_query_parameters()
            check_request_text()
            services().catalog.maybe_reload()
        elif request.path.startswith("/v1/") and not request.path.startswith("/v1/stripe/"):
            if request.path.endswith("/attachments") and request.method == "POST":
                request.max_content_length = services().config.attachment_max_bytes + 65536
            # Authenticate before the body is parsed: a bad key is 401 whatever the body.
            g.caller = services().authenticator.authenticate(request.headers.get("Authorization"))
            _limit(g.caller)
            check_query_parameters()
            check_request_text()
            services().catalog.maybe_reload()
        return None

    @app.after_request
    def _rate_limit_headers(response: Response) -> Response:
        window = g.get("rate_window")
        if window is not None:
            response.headers["RateLimit-Limit"] = str(window.limit)
            response.headers["RateLimit-Remaining"] = str(window.remaining)
            response.headers["RateLimit-Reset"] = str(window.reset_seconds)
        if request.path.startswith("/v1/"):
            # messages follow Accept-Language (api/errors.in_language): caches must know
            response.headers.add("Vary", "Accept-Language")
            response.headers["Content-Language"] = api_language.chosen(request.accept_languages)
        return response

    @app.get("/docs/assets/<path:filename>")
    def _swagger_assets(filename: str) -> ResponseReturnValue:
        # Swagger UI ships in a PyPI package: interactive docs without a CDN.
        return send_from_directory(swagger_ui_path, filename, max_age=3600)

    @app.get("/healthz")
    def _health() -> ResponseReturnValue:
        # liveness: the process answers (a restart would not help anything else)
        return {"status": "ok"}

    @app.get("/metrics")
    def _metrics() -> ResponseReturnValue:
        # Prometheus scrapes from this machine, or with METRICS_TOKEN: the figures tell
        # business volumes, not for anyone on the network.
        svc = services()
        token = svc.config.metrics_token
        given = request.headers.get("Authorization", "")
        trusted = request.remote_addr in ("127.0.0.1", "::1") or (
            token is not None and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
        )
        if not trusted:
            raise PermissionDenied(
                "metrics are served to loopback, or with Authorization: Bearer METRICS_TOKEN",
                code="metrics_forbidden",
            )
        body, content_type = metrics.exposition(svc.uow, svc.clock)
        return Response(body, content_type=content_type)

    @app.get("/readyz")
    def _ready() -> ResponseReturnValue:
        ready, checks = readiness(services().uow, services().catalog)
        return {"status": "ready" if ready else "not_ready", "checks": checks}, (
            200 if ready else 503
        )

    return api
