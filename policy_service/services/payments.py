"""Stripe billing: charge the premium before the policy is active, refund on cancellation.

Money moves exactly once:
  1. one transaction writes the policy (pending_payment), its payment row and, under the
     request's Idempotency-Key, a "processing" placeholder;
  2. the PaymentIntent is created (our payment id as Stripe Idempotency-Key; an unconfirmed
     PaymentIntent charges nothing) and its id stored; then it is confirmed;
  3. one transaction records the outcome: payment succeeded -> policy active, premium in the
     ledger, policy.issued event, final answer under the Idempotency-Key; declined -> policy
     payment_failed, cover released, 402 answer stored.
If the payment API does not answer, nothing is final: the partner gets a retryable 503, and
a retry with the same Idempotency-Key resumes from the stored PaymentIntent (retrieve, then
confirm only if it never was). Stripe's webhooks and the worker settle what nobody retried.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from policy_service.adapters.stripe_gateway import (
    PaymentDeclined,
    PaymentRejected,
    PaymentUnavailable,
)
from policy_service.domain.errors import (
    Conflict,
    PaymentUnavailableError,
    ServiceError,
)
from policy_service.domain.ids import new_id
from policy_service.domain.ledger import premium_entry
from policy_service.domain.lifecycle import PolicyStatus, policy_transition
from policy_service.domain.money import to_minor
from policy_service.domain.records import Caller

from . import endorsement_billing, issued
from .billing import Billing, declined_error, ledger_row, minor_exponent
from .idempotency import Outcome, dumps, replay_stored, run_idempotent
from .issue_transaction import insert_policies, policy_event
from .issuing import IssueItem
from .outbox import record_events
from .refunds import refund_late_charge, refund_now

log = logging.getLogger(__name__)

#: an unconfirmed payment nobody resumed within this time is given up (its intent cancelled)
ABANDON_AFTER = timedelta(hours=1)
PROCESSING = 202


def issue_and_charge(
    billing: Billing, caller: Caller, item: IssueItem, payment_method: str, now: datetime
) -> Outcome:
    """Issue one policy for a stripe-billed partner (see the module's docstring)."""
    try:
        return _start(billing, caller, item, payment_method, now)
    except _Resume:
        return resume(billing, caller, item.key or "", item.fingerprint, now)


def _start(
    billing: Billing, caller: Caller, item: IssueItem, payment_method: str, now: datetime
) -> Outcome:
    assert item.draft is not None and item.key is not None and item.fingerprint is not None
    draft_policy = replace(item.draft.policy, status=PolicyStatus.PENDING_PAYMENT.value)
    item.draft.policy = draft_policy
    payment_id = new_id("pay")
    with billing.uow.write() as tx:
        placeholder = dumps({"processing": True, "policy": draft_policy.id})
        if not tx.idempotency.claim_many(
            caller.partner_id,
            caller.livemode,
            [(item.key, item.fingerprint, PROCESSING, placeholder)],
            now,
        ):
            raise _Resume
        failed = insert_policies(tx, caller, [item], now)
        if failed:
            status, body = billing.render_error(failed[item.index])
            tx.idempotency.update_response(
                caller.partner_id, caller.livemode, item.key, status, dumps(body)
            )
            return Outcome(status, dumps(body))
        tx.payments.insert_payment(
            {
                "id": payment_id,
                "partner_id": caller.partner_id,
                "livemode": caller.livemode,
                "policy_id": draft_policy.id,
                "amount": to_minor(draft_policy.premium.total, draft_policy.premium.currency),
                "currency": draft_policy.premium.currency,
                "payment_method": payment_method,
                "status": "creating",
                "idempotency_key": item.key,
                "created_at": now,
                "updated_at": now,  # held by this request (see claim_payment)
            },
        )
    return _drive(billing, payment_id, now, confirm=True)


class _Resume(Exception):
    """The Idempotency-Key is taken: replay it, or resume the payment it started."""


def resume(billing: Billing, caller: Caller, key: str, fp: str | None, now: datetime) -> Outcome:
    """A retry of a stripe issue request: replay its final answer, or drive its payment on."""
    with billing.uow.read() as tx:
        # (a key kept as a policy: issued while the partner was billed by itself)
        stored = issued.answers(
            tx, tx.idempotency.fetch_many(caller.partner_id, caller.livemode, [key]), billing.render
        ).get(key)
    if stored is None:  # pragma: no cover - the caller saw it
        raise ServiceError("idempotency record vanished; retry")
    answer = replay_stored(stored, fp)  # refuses another body under this key
    if stored.status_code != PROCESSING:
        return answer
    placeholder = json.loads(answer.body)
    policy_id = placeholder["policy"]
    with billing.uow.write() as tx:
        payment = (
            tx.payments.get_payment(placeholder["payment"])
            if "payment" in placeholder  # an endorsement's charge
            else tx.payments.payment_of_policy(policy_id)
        )
        if payment is None:  # pragma: no cover - written with the placeholder
            raise ServiceError("payment record missing")
        if payment.status in ("succeeded", "failed"):
            mine = False
        else:
            mine = tx.payments.claim_payment(payment.id, now, now - billing.lease)
    if payment.status in ("succeeded", "failed"):
        return _final_answer(billing, payment)
    if not mine:
        raise Conflict(
            "a request with this Idempotency-Key is still being processed; retry shortly",
            code="idempotency_request_in_progress",
            details={"policy": policy_id},
        )
    return _drive(billing, payment.id, now, confirm=True)


def _load(billing: Billing, payment_id: str) -> Any:
    with billing.uow.read() as tx:
        return tx.payments.get_payment(payment_id)


def _drive(billing: Billing, payment_id: str, now: datetime, confirm: bool) -> Outcome:
    """Drive one payment (held by the caller) as far as the payment API lets us; returns the
    answer for the partner. confirm=False (the worker) settles outcomes and never starts a charge."""
    payment = _load(billing, payment_id)
    gateway = billing.gateway
    if payment.status in ("succeeded", "failed"):
        return _final_answer(billing, payment)
    if gateway is None:
        return _unavailable(billing, payment, now, "payments are not configured (STRIPE_API_KEY)")
    intent: dict[str, Any] | None = None
    try:
        if payment.payment_intent is None:
            if not confirm:
                return _give_up_if_old(billing, payment, None, now)
            intent = gateway.create_payment_intent(
                payment.amount,
                payment.currency,
                payment.payment_method,
                {"policy": payment.policy_id, "payment": payment.id},
                key=f"{payment.id}-create",
            )
            with billing.uow.write() as tx:
                if not tx.payments.update_payment(
                    payment.id,
                    payment_intent=intent["id"],
                    status="confirming",
                    updated_at=now,
                ):
                    return _final_answer(billing, _load(billing, payment.id))
        else:
            intent = gateway.retrieve_payment_intent(payment.payment_intent)
        if intent["status"] == "requires_confirmation":
            if not confirm:
                return _give_up_if_old(billing, payment, intent, now)
            try:
                intent = gateway.confirm_payment_intent(intent["id"], key=f"{payment.id}-confirm")
            except PaymentRejected:
                # Confirmed by a request whose answer we lost: ask what happened.
                intent = gateway.retrieve_payment_intent(intent["id"])
    except PaymentDeclined as exc:
        return finish(billing, payment.id, intent["id"] if intent else None, now, declined=exc)
    except PaymentRejected as exc:
        code = (
            "payment_method_invalid"
            if exc.status == 404 or exc.param == "payment_method"
            else "payment_rejected"
        )
        declined = PaymentDeclined(exc.message, code, None)
        return finish(billing, payment.id, intent["id"] if intent else None, now, declined=declined)
    except PaymentUnavailable as exc:
        return _unavailable(billing, payment, now, str(exc))
    status = intent.get("status")
    if status == "succeeded":
        return finish(billing, payment.id, intent["id"], now)
    if status in ("requires_payment_method", "canceled"):
        return finish(billing, payment.id, intent["id"], now, declined=_decline_of(intent))
    # processing, requires_action...: not final; Stripe's webhook or the worker settles it.
    if not confirm:
        return _give_up_if_old(billing, payment, intent, now)
    return _unavailable(
        billing, payment, now, f"the payment is {status}; it will be settled shortly", record=False
    )


def _decline_of(intent: dict[str, Any]) -> PaymentDeclined:
    error = intent.get("last_payment_error")
    error = error if isinstance(error, dict) else {}
    return PaymentDeclined(
        str(error.get("message") or "the payment failed"),
        str(error.get("code") or "payment_failed"),
        error.get("decline_code") if isinstance(error.get("decline_code"), str) else None,
    )


def _give_up_if_old(
    billing: Billing, payment: Any, intent: dict[str, Any] | None, now: datetime
) -> Outcome:
    """The worker: a payment nobody finished within ABANDON_AFTER is cancelled at the payment
    API first; only a cancelled (never charged) payment is recorded as failed."""
    if now - payment.created_at < ABANDON_AFTER:
        return Outcome(PROCESSING, "")
    if intent is not None and billing.gateway is not None:
        try:
            billing.gateway.cancel_payment_intent(intent["id"], key=f"{payment.id}-cancel")
        except PaymentRejected:
            # Not cancellable: it went through after all, or is still moving.
            intent = billing.gateway.retrieve_payment_intent(intent["id"])
            if intent.get("status") == "succeeded":
                return finish(billing, payment.id, intent["id"], now)
            if intent.get("status") not in ("canceled", "requires_payment_method"):
                return Outcome(PROCESSING, "")
        except (PaymentUnavailable, PaymentDeclined):
            return Outcome(PROCESSING, "")
    declined = PaymentDeclined("the payment was never completed", "abandoned", None)
    return finish(billing, payment.id, intent["id"] if intent else None, now, declined=declined)


def _unavailable(
    billing: Billing, payment: Any, now: datetime, why: str, record: bool = True
) -> Outcome:
    """Nothing is final: release the payment at once, so that the partner's retry (or the
    worker) may take it over."""
    with billing.uow.write() as tx:
        values: dict[str, Any] = {"updated_at": now - billing.lease}
        if record and (payment.payment_intent is not None or payment.status != "creating"):
            values["status"] = "unknown"
        tx.payments.update_payment(payment.id, **values)
    state = (
        f"policy {payment.policy_id} is unchanged"
        if payment.purpose == "endorsement"
        else f"policy {payment.policy_id} is pending_payment"
    )
    err = PaymentUnavailableError(
        f"{why}; no premium is final and {state}: retry with the same Idempotency-Key",
        details={"policy": payment.policy_id},
    )
    status_code, body = billing.render_error(err)
    return Outcome(status_code, dumps(body))


def _final_answer(billing: Billing, payment: Any) -> Outcome:
    if payment.purpose == "endorsement":  # its answer was stored when the charge ended
        with billing.uow.read() as tx:
            stored = tx.idempotency.fetch_many(
                payment.partner_id, payment.livemode, [payment.idempotency_key]
            ).get(payment.idempotency_key)
        if stored is not None and stored.body is not None:
            return Outcome(stored.status_code, stored.body)
        # (purged after a day: a late Stripe event needs no answer, only not to fail)
        return Outcome(200, dumps({"payment": payment.id, "status": payment.status}))
    with billing.uow.read() as tx:
        policy = tx.policies.get(payment.partner_id, payment.livemode, payment.policy_id)
    assert policy is not None
    if payment.status == "succeeded":
        return Outcome(201, dumps(billing.render(policy)), policy=policy)
    status, body = billing.render_error(
        declined_error(payment.failure_message, payment.decline_code, policy.id)
    )
    return Outcome(status, dumps(body))


def finish(
    billing: Billing,
    payment_id: str,
    payment_intent: str | None,
    now: datetime,
    declined: PaymentDeclined | None = None,
) -> Outcome:
    """Record the payment's outcome once, with everything that follows from it, in one transaction."""
    outcome, late_refund = _finish_once(billing, payment_id, payment_intent, now, declined)
    if late_refund is not None:
        refund_now(billing, late_refund, now)
    if outcome is not None:
        return outcome
    # Someone else recorded it first (webhook, worker, a concurrent retry): answer with that.
    return _final_answer(billing, _load(billing, payment_id))


def _finish_once(
    billing: Billing,
    payment_id: str,
    payment_intent: str | None,
    now: datetime,
    declined: PaymentDeclined | None,
) -> tuple[Outcome | None, str | None]:
    with billing.uow.write() as tx:
        payment = tx.payments.get_payment(payment_id, lock=True)
        if payment.purpose == "endorsement":
            return endorsement_billing.finish(tx, billing, payment, payment_intent, now, declined)
        policy = tx.policies.get(
            payment.partner_id, payment.livemode, payment.policy_id, for_update=True
        )
        assert policy is not None
        intent_id = payment_intent or payment.payment_intent
        if declined is None:
            if payment.status != "succeeded" and (
                payment.status == "failed" or policy.status != PolicyStatus.PENDING_PAYMENT.value
            ):
                return None, refund_late_charge(tx, billing, payment, policy, intent_id, now)
            if not tx.payments.finish_payment(
                payment.id, "succeeded", payment_intent=intent_id, updated_at=now
            ):
                return None, None
            new_status = policy_transition(policy.status, "payment_succeeded").value
            tx.policies.set_status(
                policy.id, policy.status, new_status, payment_intent=intent_id, updated_at=now
            )
            active = replace(policy, status=new_status, payment_intent=intent_id, updated_at=now)
            body = billing.render(active)
            tx.ledger.insert_entries(
                [
                    ledger_row(
                        billing, policy, premium_entry(policy.premium, minor_exponent(policy)), now
                    )
                ],
            )
            record_events(tx, [policy_event("policy.issued", active, dumps(body))])
            status, text = 201, dumps(body)
        else:
            if not tx.payments.finish_payment(
                payment.id,
                "failed",
                decline_code=declined.decline_code or declined.code,
                failure_message=declined.message[:500],
                payment_intent=intent_id,
                updated_at=now,
            ):
                return None, None
            new_status = policy_transition(policy.status, "payment_failed").value
            tx.policies.set_status(policy.id, policy.status, new_status, updated_at=now)
            tx.policies.release_covers([policy.id])
            failed = replace(policy, status=new_status, updated_at=now)
            record_events(
                tx, [policy_event("policy.payment_failed", failed, dumps(billing.render(failed)))]
            )
            status, body_err = billing.render_error(
                declined_error(declined.message, declined.decline_code or declined.code, policy.id)
            )
            text = dumps(body_err)
        if payment.idempotency_key:
            tx.idempotency.update_response(
                payment.partner_id, payment.livemode, payment.idempotency_key, status, text
            )
    return Outcome(status, text), None


def endorse_and_charge(
    billing: Billing,
    caller: Caller,
    key: str,
    fp: str,
    policy_id: str,
    body: dict[str, Any],
    now: datetime,
) -> Outcome:
    """Endorse a stripe-billed policy (services/endorsement_billing.py): the change at once
    with its refund sent after, or its charge driven like an issue's."""
    refunds: list[str] = []
    outcome = run_idempotent(
        billing.uow,
        caller,
        key,
        fp,
        now,
        lambda tx: endorsement_billing.endorse(
            billing, tx, caller, key, policy_id, body, now, refunds
        ),
        billing.render_error,
    )
    for refund_id in refunds:
        refund_now(billing, refund_id, now)
    if outcome.status != PROCESSING:
        return outcome
    if outcome.replayed:  # a concurrent request with this key started it
        return resume(billing, caller, key, fp, now)
    return _drive(billing, json.loads(outcome.body)["payment"], now, confirm=True)
