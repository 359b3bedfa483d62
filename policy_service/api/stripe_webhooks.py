"""POST /v1/stripe/webhooks: Stripe tells us how payments ended. Authenticated by the
Stripe-Signature header (STRIPE_WEBHOOK_SECRET), not by a partner key."""

from __future__ import annotations

import json

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from policy_service.domain.errors import InvalidRequest, NotFound, Unauthenticated
from policy_service.domain.signatures import SignatureError, verify
from policy_service.services import payment_settling

from .context import services
from .idempotency import ok

blp = Blueprint(
    "stripe_webhooks", __name__, url_prefix="/v1/stripe", description="Payment API callbacks"
)


@blp.route("/webhooks")
class StripeWebhooks(MethodView):
    @blp.doc(
        security=[],
        responses={
            "200": {"description": "handled (or a repeat)"},
            "404": {"description": "Stripe webhooks are not configured on this service"},
        },
    )
    def post(self) -> Response:
        """Receive a Stripe webhook: verified, deduplicated, and the payment reconciled"""
        svc = services()
        secret = svc.config.stripe_webhook_secret
        if not secret:
            # not a passing outage: nothing here listens for them (Stripe retries non-2xx)
            raise NotFound(
                "Stripe webhooks are not configured here (STRIPE_WEBHOOK_SECRET)",
                code="not_configured",
            )
        body = request.get_data()
        try:
            verify(body, request.headers.get("Stripe-Signature"), secret)
        except SignatureError as exc:
            raise Unauthenticated(f"Stripe-Signature: {exc}", code="invalid_signature") from None
        try:
            event = json.loads(body)
        except ValueError:
            event = None
        if not isinstance(event, dict) or not isinstance(event.get("id"), str):
            raise InvalidRequest("not a Stripe event")
        result = payment_settling.receive_stripe_event(svc.billing(), event, svc.clock())
        if result is None:
            return ok({"received": True, "duplicate": True})
        return ok({"received": True, "result": result})
