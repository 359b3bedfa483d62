"""Refunds through the payment API (stripe billing): a cancellation's refund, or a charge
that landed after its payment was given up, sent once it is ours to send and retried by
the worker until the API takes it."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from policy_service.adapters.stripe_gateway import (
    PaymentDeclined,
    PaymentRejected,
    PaymentUnavailable,
)
from policy_service.domain.ids import new_id
from policy_service.domain.ledger import premium_entry, refund_entry
from policy_service.domain.money import MINOR_UNITS, from_minor
from policy_service.domain.records import Policy

from . import endorsement_billing
from .billing import Billing, ledger_row, minor_exponent
from .refund_allocation import parts_of
from .unit_of_work import Tx

log = logging.getLogger(__name__)

#: a refund the payment API keeps refusing is given up after this many tries (and logged)
MAX_REFUND_ATTEMPTS = 25


def refund_late_charge(
    tx: Tx,
    billing: Billing,
    payment: Any,
    policy: Policy,
    intent_id: str | None,
    now: datetime,
) -> str | None:
    """A charge went through after the payment was recorded as failed (e.g. given up while a
    confirm was in flight): the money is booked and sent straight back, never kept."""
    log.error("payment %s succeeded after it was recorded as failed: refunding it", payment.id)
    if intent_id and payment.payment_intent is None:
        tx.payments.record_intent(payment.id, intent_id)
    if tx.payments.refund_of_policy(policy.id) is not None:
        return None  # already being refunded
    tx.ledger.insert_entries(
        [ledger_row(billing, policy, premium_entry(policy.premium, minor_exponent(policy)), now)]
    )
    refund_id = new_id("rfd")
    tx.payments.insert_refund(
        {
            "id": refund_id,
            "partner_id": policy.partner_id,
            "livemode": policy.livemode,
            "policy_id": policy.id,
            "payment_id": payment.id,
            "amount": payment.amount,
            "currency": payment.currency,
            "status": "pending",
            "created_at": now,
            "updated_at": now,
        },
    )
    return refund_id


def refund_now(billing: Billing, refund_id: str, now: datetime) -> str:
    """Send a pending refund to the payment API once it is ours; returns its status."""
    with billing.uow.write() as tx:
        if not tx.payments.claim_refund(refund_id, now, now):
            return "busy"
        refund = tx.payments.get_refund(refund_id)
        parts = [(tx.payments.get_payment(p["payment"]), p["amount"]) for p in parts_of(refund)]
    if billing.gateway is None or any(pay.payment_intent is None for pay, _ in parts):
        return "pending"
    try:
        answers = [
            _sent_once(billing.gateway, refund, i, pay.payment_intent, amount)
            for i, (pay, amount) in enumerate(parts)
        ]
    except (PaymentUnavailable, PaymentRejected, PaymentDeclined) as exc:
        attempts = refund.attempts + 1
        # A returned charge was never booked: given up, it would be money kept and on no
        # book. It is tried again (each pass of the worker, logged as an error) until the
        # payment API takes it or ops settle it by hand.
        final = attempts >= MAX_REFUND_ATTEMPTS and refund.kind != "returned"
        with billing.uow.write() as tx:
            tx.payments.update_refund(
                refund.id,
                attempts=attempts,
                last_error=str(exc)[:500],
                status="failed" if final else "pending",
                updated_at=now,
            )
        loud = attempts >= MAX_REFUND_ATTEMPTS
        (log.error if loud else log.warning)(
            "refund %s %s: %s", refund.id, "given up" if final else "not sent yet", exc
        )
        return "failed" if final else "pending"
    with billing.uow.write() as tx:
        if tx.payments.finish_refund(
            refund.id, status="succeeded", stripe_refund=answers[0].get("id"), updated_at=now
        ):
            if refund.kind != "premium":
                endorsement_billing.book_refund(tx, billing, refund, now)
                return "succeeded"
            policy = tx.policies.get(refund.partner_id, refund.livemode, refund.policy_id)
            assert policy is not None
            entry = refund_entry(
                policy.premium,
                from_minor(refund.amount, refund.currency),
                MINOR_UNITS[refund.currency],
            )
            tx.ledger.insert_entries([ledger_row(billing, policy, entry, now)])
    return "succeeded"


def _sent_once(gateway: Any, refund: Any, part: int, intent: str, amount: int) -> Any:
    """One part of a refund (one per charge), sent at most once. An earlier attempt may
    have landed with its answer lost: look first. The Idempotency-Key covers Stripe for a
    day; the look covers later retries and peers that ignore the key (localstripe)."""
    for found in gateway.list_refunds(intent):
        meta = found.get("metadata") or {}
        if meta.get("refund") == refund.id and str(meta.get("part", "0")) == str(part):
            if found.get("status") in ("failed", "canceled"):
                raise PaymentRejected(f"the payment API failed refund {found.get('id')}", 400)
            return found
    metadata = {"policy": refund.policy_id, "refund": refund.id, "kind": refund.kind}
    metadata["part"] = str(part)
    key = refund.id if part == 0 else f"{refund.id}-{part}"
    # no silent resend inside the gateway: a retry is a new attempt, looked up first
    return gateway.create_refund(intent, amount, metadata, key=key, retries=0)
