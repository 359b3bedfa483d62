"""Endorsing a stripe-billed policy: the premium difference moves through the payment API.

- No difference: the change is made as for a partner-settled policy.
- A lower premium: the change is made, and the difference is refunded on the policy's
  PaymentIntent right after the transaction (the worker retries a refund the payment API
  did not take); its ledger entry follows the refund's success, as a cancellation's does.
- A higher premium: the difference is charged first, through the resumable charge flow of
  an issue (services/payments.py). The transaction that records the charge's success makes
  the change, checking everything again at that moment; a change that can no longer be
  made (the deadline passed while the payment waited, a report on the new flight arrived,
  another change came first) gives the whole charge back. A declined card changes nothing.

Either way the partner's answer is the endorsement (201), or the refusal, remembered under
the request's Idempotency-Key.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from policy_service.adapters.stripe_gateway import PaymentDeclined
from policy_service.domain.errors import Conflict, InvalidRequest, ServiceError
from policy_service.domain.ids import new_id
from policy_service.domain.ledger import endorsement_entry
from policy_service.domain.money import MINOR_UNITS
from policy_service.domain.records import Caller

from . import endorsements
from .billing import Billing, declined_error, ledger_row
from .idempotency import Outcome, dumps
from .refund_allocation import allocate
from .unit_of_work import Tx

log = logging.getLogger(__name__)

#: the answer stored while an endorsement's charge is under way (see payments.resume)
PROCESSING = 202


def endorse(
    billing: Billing,
    tx: Tx,
    caller: Caller,
    key: str,
    policy_id: str,
    body: dict[str, Any],
    now: datetime,
    refunds: list[str],
) -> tuple[int, dict[str, Any]]:
    """In the request's transaction: make a change that costs nothing more (a refund to send
    after commit is added to `refunds`), or record the charge a dearer one needs and
    answer 202 with the payment to drive."""
    request = dict(body)
    method = request.pop("payment_method", None)
    assert billing.catalog is not None and billing.render_endorsement is not None
    change = endorsements.prepare(billing.catalog, tx, caller, policy_id, request, now)
    premium = tx.payments.payment_of_policy(change.before.id)
    if premium is None:
        # Sold while the partner settled by itself: its difference is the partner's too.
        if method is not None:
            raise InvalidRequest(
                "this policy's premium was collected by the partner; so is its difference",
                param="payment_method",
            )
        render = billing.render_endorsement
        endorsements.write(tx, change, now, billing.settlement_timezone, render, "partner")
        return 201, render(change.endorsement, change.after)
    if change.difference > 0:
        return PROCESSING, _record_charge(tx, caller, key, change, request, method, premium, now)
    if method is not None:
        raise InvalidRequest(
            "is only taken when the change raises the premium; this one does not",
            param="payment_method",
        )
    # a lower premium is booked when its refund goes through; an unchanged total at once
    # (its parts may have moved)
    booked = None if change.difference < 0 else "us"
    endorsements.write(
        tx, change, now, billing.settlement_timezone, billing.render_endorsement, booked
    )
    if change.difference < 0:
        refunds.append(_record_refund(tx, change, -change.difference, now))
    return 201, billing.render_endorsement(change.endorsement, change.after)


def _record_charge(
    tx: Tx,
    caller: Caller,
    key: str,
    change: endorsements.Change,
    request: dict[str, Any],
    method: Any,
    premium: Any,
    now: datetime,
) -> dict[str, Any]:
    if method is not None and (
        not isinstance(method, str)
        or not method.startswith(("pm_", "card_", "src_"))
        or len(method) > 80
    ):
        raise InvalidRequest("must be a Stripe PaymentMethod id (pm_...)", param="payment_method")
    payment_id = new_id("pay")
    tx.payments.insert_payment(
        {
            "id": payment_id,
            "partner_id": caller.partner_id,
            "livemode": caller.livemode,
            "policy_id": change.before.id,
            "purpose": "endorsement",
            # the version it was priced on: a change made meanwhile refuses this one
            "endorsement_request": json.dumps(
                {"version": change.before.version, "body": request}, sort_keys=True
            ),
            "amount": change.difference,
            "currency": change.after.premium.currency,
            "payment_method": method or premium.payment_method,
            "status": "creating",
            "idempotency_key": key,  # its answer is stored there once the charge ends
            "created_at": now,
            "updated_at": now,  # held by this request (see payments.claim_payment)
        }
    )
    return {"processing": True, "policy": change.before.id, "payment": payment_id}


def _record_refund(tx: Tx, change: endorsements.Change, amount: int, now: datetime) -> str:
    parts = allocate(tx, change.before.id, amount)
    refund_id = new_id("rfd")
    tx.payments.insert_refund(
        {
            "id": refund_id,
            "partner_id": change.before.partner_id,
            "livemode": change.before.livemode,
            "policy_id": change.before.id,
            "kind": "endorsement",
            "endorsement_id": change.endorsement.id,
            "payment_id": parts[0]["payment"],
            "allocation": parts,
            "amount": amount,
            "currency": change.after.premium.currency,
            "status": "pending",
            "created_at": now,
            "updated_at": now,
        }
    )
    return refund_id


def apply_paid(
    tx: Tx, billing: Billing, payment: Any, now: datetime
) -> tuple[int, dict[str, Any], str | None]:
    """The charge of `payment` succeeded (in the transaction recording it): make the change
    it paid for, or give the charge back. Returns the answer and a refund to send."""
    assert billing.catalog is not None and billing.render_endorsement is not None
    request = json.loads(payment.endorsement_request)
    caller = Caller(payment.partner_id, payment.livemode, "", frozenset(), "stripe")
    try:
        with tx.savepoint():
            change = endorsements.prepare(
                billing.catalog, tx, caller, payment.policy_id, request["body"], now
            )
            if change.before.version != request["version"] or change.difference != payment.amount:
                raise Conflict(
                    "the policy changed while the payment was under way; the charge is given "
                    "back: ask again",
                    code="concurrent_update",
                )
            endorsements.write(
                tx, change, now, billing.settlement_timezone, billing.render_endorsement, "us"
            )
    except ServiceError as refusal:  # whatever stops the change, the money goes back
        log.warning("endorsement paid by %s refused, charge returned: %s", payment.id, refusal)
        status, body = billing.render_error(refusal)
        return status, body, return_charge(tx, payment, now)
    tx.payments.record_endorsement(payment.id, change.endorsement.id)
    return 201, billing.render_endorsement(change.endorsement, change.after), None


def return_charge(tx: Tx, payment: Any, now: datetime) -> str | None:
    """Give an endorsement's charge back whole (once per payment)."""
    if tx.payments.returned_refund(payment.id) is not None:
        return None
    refund_id = new_id("rfd")
    tx.payments.insert_refund(
        {
            "id": refund_id,
            "partner_id": payment.partner_id,
            "livemode": payment.livemode,
            "policy_id": payment.policy_id,
            "kind": "returned",
            "payment_id": payment.id,
            "amount": payment.amount,
            "currency": payment.currency,
            "status": "pending",
            "created_at": now,
            "updated_at": now,
        }
    )
    return refund_id


def book_refund(tx: Tx, billing: Billing, refund: Any, now: datetime) -> None:
    """An endorsement's refund went through: book its difference (a returned charge books
    nothing: it was never booked)."""
    if refund.kind != "endorsement":
        return
    found = tx.endorsements.get(refund.partner_id, refund.livemode, refund.endorsement_id)
    policy = tx.policies.get(refund.partner_id, refund.livemode, refund.policy_id)
    assert found is not None and policy is not None
    entry = endorsement_entry(
        found.premium_before, found.premium_after, MINOR_UNITS[refund.currency]
    )
    if entry is not None:
        tx.ledger.insert_entries(
            [ledger_row(billing, policy, entry, now)], endorsement_id=refund.endorsement_id
        )


def finish(
    tx: Tx,
    billing: Billing,
    payment: Any,
    payment_intent: str | None,
    now: datetime,
    declined: PaymentDeclined | None,
) -> tuple[Outcome | None, str | None]:
    """An endorsement's charge ended: make the change it paid for (or give it back), or
    leave the policy as it was when the card was declined."""
    intent_id = payment_intent or payment.payment_intent
    if declined is None:
        if payment.status == "failed":  # landed after it was given up: given back whole
            log.error("payment %s succeeded after it was recorded as failed: refunding", payment.id)
            if intent_id and payment.payment_intent is None:
                tx.payments.record_intent(payment.id, intent_id)
            return None, return_charge(tx, payment, now)
        if not tx.payments.finish_payment(
            payment.id, "succeeded", payment_intent=intent_id, updated_at=now
        ):
            return None, None
        status, body, returned = apply_paid(tx, billing, payment, now)
    else:
        code = declined.decline_code or declined.code
        if not tx.payments.finish_payment(
            payment.id,
            "failed",
            decline_code=code,
            failure_message=declined.message[:500],
            payment_intent=intent_id,
            updated_at=now,
        ):
            return None, None
        status, body = billing.render_error(
            declined_error(declined.message, code, payment.policy_id, endorsing=True)
        )
        returned = None
    text = dumps(body)
    tx.idempotency.update_response(
        payment.partner_id, payment.livemode, payment.idempotency_key, status, text
    )
    return Outcome(status, text), returned
