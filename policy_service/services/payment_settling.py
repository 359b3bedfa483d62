"""Settling payments nobody retried: the worker's sweep of idle payments and pending
refunds, and Stripe's webhooks (verified by the API, each handled once)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from policy_service.domain.errors import (
    InvalidRequest,
)

from .billing import Billing
from .payments import _decline_of, _drive, finish
from .refunds import refund_now

log = logging.getLogger(__name__)


def reconcile(billing: Billing, now: datetime, limit: int = 50) -> int:
    """Unfinished payments idle for a lease, and pending refunds: finish them, one at a time,
    each claimed first so that several workers never drive the same one."""
    idle_since = now - billing.lease
    with billing.uow.read() as tx:
        stale = [p.id for p in tx.payments.unfinished_payments(idle_since, limit)]
        refunds = [r.id for r in tx.payments.pending_refunds(idle_since, limit)]
    done = 0
    for payment_id in stale:
        try:
            with billing.uow.write() as tx:
                mine = tx.payments.claim_payment(payment_id, now, idle_since)
            if mine:
                _drive(billing, payment_id, now, confirm=False)
                done += 1
        except Exception:
            log.exception("could not settle payment %s; will try again", payment_id)
    for refund_id in refunds:
        try:
            refund_now(billing, refund_id, now)
            done += 1
        except Exception:
            log.exception("could not send refund %s; will try again", refund_id)
    return done


def receive_stripe_event(billing: Billing, event: dict[str, Any], now: datetime) -> str | None:
    """A verified Stripe webhook, once: None if this event was handled before. It is
    settled first and remembered after: if settling fails, Stripe's redelivery tries again
    (settling twice changes nothing)."""
    with billing.uow.read() as tx:
        if tx.stripe_events.seen(event["id"]):
            return None
    result = on_stripe_event(billing, event, now)
    with billing.uow.write() as tx:
        tx.stripe_events.remember(event["id"], str(event.get("type")), now)
    return result


def on_stripe_event(billing: Billing, event: dict[str, Any], now: datetime) -> str:
    """A Stripe webhook: settle the payment it is about (repeats change nothing)."""
    kind = event.get("type")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
        raise InvalidRequest("the event has no data.object with an id", param="data.object")
    if kind not in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        return "ignored"
    with billing.uow.read() as tx:
        payment = tx.payments.payment_by_intent(obj["id"])
    if payment is None:
        return "unknown payment"
    if obj.get("amount") is not None and obj.get("amount") != payment.amount:
        log.error(
            "Stripe event %s: amount %s differs from payment %s",
            event.get("id"),
            obj.get("amount"),
            payment.id,
        )
        return "amount mismatch"
    if kind == "payment_intent.succeeded":
        finish(billing, payment.id, obj["id"], now)
    else:
        finish(billing, payment.id, obj["id"], now, declined=_decline_of(obj))
    return "settled"
