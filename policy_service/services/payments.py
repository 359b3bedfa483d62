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
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from policy_service.adapters import (
    events_repo,
    idempotency_repo,
    ledger_repo,
    payments_repo,
    policies_repo,
)
from policy_service.adapters.sql import from_minor, to_minor
from policy_service.adapters.stripe_gateway import (
    PaymentDeclined,
    PaymentRejected,
    PaymentUnavailable,
    StripeGateway,
)
from policy_service.adapters.tables import policies
from policy_service.domain.errors import (
    InvalidRequest,
    PaymentFailed,
    PaymentUnavailableError,
    ServiceError,
)
from policy_service.domain.ids import new_id
from policy_service.domain.ledger import period_of, premium_entry, refund_entry
from policy_service.domain.lifecycle import PolicyStatus, policy_transition
from policy_service.domain.money import MINOR_UNITS
from policy_service.domain.records import Caller, Policy

from .policies import (
    IssueItem,
    Outcome,
    RenderError,
    _event,
    _insert_policies,
    dumps,
    replay_stored,
)

log = logging.getLogger(__name__)

#: an unconfirmed payment nobody resumed within this time is given up
ABANDON_AFTER = timedelta(hours=1)
PROCESSING = 202


@dataclass
class Billing:
    """What the payment flow needs from its caller (API, worker, Stripe webhook)."""

    engine: sa.Engine
    gateway: StripeGateway | None
    render: Callable[[Policy], dict[str, Any]]
    render_error: RenderError
    settlement_timezone: str


def check_payment_method(value: Any, caller: Caller) -> str | None:
    if caller.billing_mode != "stripe":
        if value is not None:
            raise InvalidRequest(
                "this partner is billed by settlement; premiums are not charged here",
                param="payment_method",
            )
        return None
    if (
        not isinstance(value, str)
        or not value.startswith(("pm_", "card_", "src_"))
        or len(value) > 80
    ):
        raise InvalidRequest(
            "is required: the Stripe PaymentMethod id (pm_...)", param="payment_method"
        )
    return value


def issue_and_charge(
    billing: Billing, caller: Caller, item: IssueItem, payment_method: str, now: datetime
) -> Outcome:
    """Issue one policy for a stripe-billed partner (see the module's docstring)."""
    try:
        return _start(billing, caller, item, payment_method, now)
    except _Resume:
        return resume(billing, caller, item, now)


def _start(
    billing: Billing, caller: Caller, item: IssueItem, payment_method: str, now: datetime
) -> Outcome:
    engine = billing.engine
    assert item.draft is not None
    draft_policy = replace(item.draft.policy, status=PolicyStatus.PENDING_PAYMENT.value)
    item.draft.policy = draft_policy
    payment_id = new_id("pay")
    with engine.begin() as conn:
        if item.key is not None:
            placeholder = dumps({"processing": True, "policy": draft_policy.id})
            claimed = idempotency_repo.claim_many(
                conn,
                caller.partner_id,
                caller.livemode,
                [(item.key, item.fingerprint, PROCESSING, placeholder)],
                now,
            )
            if not claimed:
                raise _Resume
        failed = _insert_policies(conn, caller, [item], now)
        if failed:
            status, body = billing.render_error(failed[item.index])
            if item.key is not None:
                idempotency_repo.update_response(
                    conn, caller.partner_id, caller.livemode, item.key, status, dumps(body)
                )
            return Outcome(status, dumps(body))
        payments_repo.insert_payment(
            conn,
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
                "updated_at": now,
            },
        )
    return charge(billing, payment_id, now, confirm=True)


class _Resume(Exception):
    """The Idempotency-Key is taken: replay it, or resume the payment it started."""


def resume(billing: Billing, caller: Caller, item: IssueItem, now: datetime) -> Outcome:
    with billing.engine.connect() as conn:
        stored = idempotency_repo.fetch_many(
            conn, caller.partner_id, caller.livemode, [item.key or ""]
        ).get(item.key or "")
    assert stored is not None
    if stored.status_code != PROCESSING:
        return replay_stored(stored, item.fingerprint)
    replay_stored(stored, item.fingerprint)  # refuses another body under this key
    policy_id = json.loads(stored.body)["policy"]
    with billing.engine.connect() as conn:
        payment = payments_repo.payment_of_policy(conn, policy_id)
    if payment is None:  # pragma: no cover - written with the placeholder
        raise ServiceError("payment record missing")
    return charge(billing, payment.id, now, confirm=True)


def charge(billing: Billing, payment_id: str, now: datetime, confirm: bool) -> Outcome:
    """Drive one payment as far as the payment API lets us; returns the answer for the partner.
    confirm=False (the worker) only settles outcomes and never starts a charge."""
    engine, gateway = billing.engine, billing.gateway
    with engine.connect() as conn:
        payment = conn.execute(
            sa.select(payments_repo.P).where(payments_repo.P.c.id == payment_id)
        ).one()
    if payment.status in ("succeeded", "failed"):
        return _final_answer(billing, payment)
    if gateway is None:
        return _unavailable(billing, payment, now, "payments are not configured (STRIPE_API_KEY)")
    try:
        if payment.payment_intent is None:
            if not confirm:
                return _maybe_abandon(billing, payment, now)
            intent = gateway.create_payment_intent(
                payment.amount,
                payment.currency,
                payment.payment_method,
                {"policy": payment.policy_id, "payment": payment.id},
                key=f"{payment.id}-create",
            )
            with engine.begin() as conn:
                payments_repo.update_payment(
                    conn,
                    payment.id,
                    payment_intent=intent["id"],
                    status="confirming",
                    updated_at=now,
                )
        else:
            intent = gateway.retrieve_payment_intent(payment.payment_intent)
        if intent["status"] == "requires_confirmation":
            if not confirm:
                return _maybe_abandon(billing, payment, now)
            try:
                intent = gateway.confirm_payment_intent(intent["id"], key=f"{payment.id}-confirm")
            except PaymentRejected:
                # Confirmed by a request we never heard back from: ask what happened.
                intent = gateway.retrieve_payment_intent(intent["id"])
    except PaymentDeclined as exc:
        return finish(billing, payment.id, None, now, declined=exc)
    except PaymentRejected as exc:
        declined = PaymentDeclined(exc.message, "payment_method_invalid", None)
        return finish(billing, payment.id, None, now, declined=declined)
    except PaymentUnavailable as exc:
        return _unavailable(billing, payment, now, str(exc))
    status = intent.get("status")
    if status == "succeeded":
        return finish(billing, payment.id, intent["id"], now)
    if status in ("requires_payment_method", "canceled"):
        error = intent.get("last_payment_error") or {}
        declined = PaymentDeclined(
            str(error.get("message") or "the payment failed"),
            str(error.get("code") or "payment_failed"),
            error.get("decline_code"),
        )
        return finish(billing, payment.id, intent["id"], now, declined=declined)
    # processing, requires_action...: not final; Stripe's webhook or the worker settles it.
    with engine.begin() as conn:
        payments_repo.update_payment(conn, payment.id, status="confirming", updated_at=now)
    return _unavailable(
        billing, payment, now, f"the payment is {status}; it will be settled shortly", record=False
    )


def _maybe_abandon(billing: Billing, payment: Any, now: datetime) -> Outcome:
    if now - payment.created_at < ABANDON_AFTER:
        return Outcome(PROCESSING, "")
    declined = PaymentDeclined(
        "the payment was never completed; the policy was not issued", "abandoned", None
    )
    return finish(billing, payment.id, payment.payment_intent, now, declined=declined)


def _unavailable(
    billing: Billing, payment: Any, now: datetime, why: str, record: bool = True
) -> Outcome:
    if record:
        with billing.engine.begin() as conn:
            if payment.payment_intent is not None or payment.status != "creating":
                payments_repo.update_payment(conn, payment.id, status="unknown", updated_at=now)
            else:
                payments_repo.update_payment(conn, payment.id, updated_at=now)
    err = PaymentUnavailableError(
        f"{why}; no premium is final and the policy {payment.policy_id} is pending_payment: "
        "retry with the same Idempotency-Key",
        details={"policy": payment.policy_id},
    )
    status, body = billing.render_error(err)
    return Outcome(status, dumps(body))


def _final_answer(billing: Billing, payment: Any) -> Outcome:
    with billing.engine.connect() as conn:
        policy = policies_repo.get(conn, payment.partner_id, payment.livemode, payment.policy_id)
    assert policy is not None
    if payment.status == "succeeded":
        return Outcome(201, dumps(billing.render(policy)), policy=policy)
    status, body = billing.render_error(
        _declined_error(payment.failure_message, payment.decline_code, policy.id)
    )
    return Outcome(status, dumps(body))


def _declined_error(message: str | None, code: str | None, policy_id: str) -> PaymentFailed:
    return PaymentFailed(
        f"the payment was declined: {message or 'no reason given'}; the policy was not issued",
        details={"decline_code": code, "policy": policy_id},
    )


def finish(
    billing: Billing,
    payment_id: str,
    payment_intent: str | None,
    now: datetime,
    declined: PaymentDeclined | None = None,
) -> Outcome:
    """Record the payment's outcome once, with everything that follows from it, in one transaction."""
    outcome = _finish_once(billing, payment_id, payment_intent, now, declined)
    if outcome is not None:
        return outcome
    # Someone else recorded it first (webhook, worker, a concurrent retry): answer with that.
    with billing.engine.connect() as conn:
        payment = conn.execute(
            sa.select(payments_repo.P).where(payments_repo.P.c.id == payment_id)
        ).one()
    return _final_answer(billing, payment)


def _finish_once(
    billing: Billing,
    payment_id: str,
    payment_intent: str | None,
    now: datetime,
    declined: PaymentDeclined | None,
) -> Outcome | None:
    with billing.engine.begin() as conn:
        stmt = sa.select(payments_repo.P).where(payments_repo.P.c.id == payment_id)
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        payment = conn.execute(stmt).one()
        policy = policies_repo.get(
            conn, payment.partner_id, payment.livemode, payment.policy_id, for_update=True
        )
        assert policy is not None
        if declined is None:
            values: dict[str, Any] = {"updated_at": now}
            if payment_intent:
                values["payment_intent"] = payment_intent
            if not payments_repo.finish_payment(conn, payment.id, "succeeded", **values):
                return None
            new_status = policy_transition(policy.status, "payment_succeeded").value
            intent_id = payment_intent or payment.payment_intent
            conn.execute(
                policies.update()
                .where(policies.c.id == policy.id)
                .values(status=new_status, payment_intent=intent_id, updated_at=now)
            )
            active = replace(policy, status=new_status, payment_intent=intent_id, updated_at=now)
            body = billing.render(active)
            entry = premium_entry(policy.premium, MINOR_UNITS[policy.premium.currency])
            ledger_repo.insert_entries(
                conn,
                [
                    (
                        policy.partner_id,
                        policy.id,
                        policy.livemode,
                        "us",
                        entry,
                        now,
                        period_of(now, billing.settlement_timezone),
                    )
                ],
            )
            events_repo.insert_many(conn, [_event("policy.issued", active, dumps(body))])
            status, text = 201, dumps(body)
        else:
            if not payments_repo.finish_payment(
                conn,
                payment.id,
                "failed",
                decline_code=declined.decline_code or declined.code,
                failure_message=declined.message[:500],
                payment_intent=payment_intent or payment.payment_intent,
                updated_at=now,
            ):
                return None
            new_status = policy_transition(policy.status, "payment_failed").value
            conn.execute(
                policies.update()
                .where(policies.c.id == policy.id)
                .values(status=new_status, updated_at=now)
            )
            policies_repo.release_covers(conn, [policy.id])
            failed = replace(policy, status=new_status, updated_at=now)
            events_repo.insert_many(
                conn, [_event("policy.payment_failed", failed, dumps(billing.render(failed)))]
            )
            status, body_err = billing.render_error(
                _declined_error(declined.message, declined.decline_code or declined.code, policy.id)
            )
            text = dumps(body_err)
        if payment.idempotency_key:
            idempotency_repo.update_response(
                conn, payment.partner_id, payment.livemode, payment.idempotency_key, status, text
            )
    return Outcome(status, text)


# -- refunds -------------------------------------------------------------------------------


def refund_now(billing: Billing, refund_id: str, now: datetime) -> str:
    """Send a pending refund to the payment API; returns its status (pending on an outage)."""
    with billing.engine.connect() as conn:
        refund = conn.execute(
            sa.select(payments_repo.R).where(payments_repo.R.c.id == refund_id)
        ).one()
        payment = conn.execute(
            sa.select(payments_repo.P).where(payments_repo.P.c.id == refund.payment_id)
        ).one()
    if refund.status != "pending":
        return refund.status
    if billing.gateway is None:
        return "pending"
    try:
        answer = billing.gateway.create_refund(
            payment.payment_intent,
            refund.amount,
            {"policy": refund.policy_id, "refund": refund.id},
            key=refund.id,
        )
    except (PaymentUnavailable, PaymentRejected, PaymentDeclined) as exc:
        with billing.engine.begin() as conn:
            payments_repo.update_refund(
                conn,
                refund.id,
                attempts=refund.attempts + 1,
                last_error=str(exc)[:500],
                updated_at=now,
            )
        log.warning("refund %s not sent yet: %s", refund.id, exc)
        return "pending"
    with billing.engine.begin() as conn:
        if payments_repo.finish_refund(
            conn, refund.id, status="succeeded", stripe_refund=answer.get("id"), updated_at=now
        ):
            policy = policies_repo.get(conn, refund.partner_id, refund.livemode, refund.policy_id)
            assert policy is not None
            entry = refund_entry(
                policy.premium,
                from_minor(refund.amount, refund.currency),
                MINOR_UNITS[refund.currency],
            )
            ledger_repo.insert_entries(
                conn,
                [
                    (
                        policy.partner_id,
                        policy.id,
                        policy.livemode,
                        "us",
                        entry,
                        now,
                        period_of(now, billing.settlement_timezone),
                    )
                ],
            )
    return "succeeded"


# -- settling what nobody retried: the worker -----------------------------------------------


def reconcile(
    billing: Billing, now: datetime, quiet_for: timedelta = timedelta(seconds=60), limit: int = 50
) -> int:
    """Unfinished payments nobody touched for a while, and pending refunds: finish them."""
    with billing.engine.connect() as conn:
        stale = [p.id for p in payments_repo.unfinished_payments(conn, now - quiet_for, limit)]
        refunds = [r.id for r in payments_repo.pending_refunds(conn, limit)]
    for payment_id in stale:
        charge(billing, payment_id, now, confirm=False)
    for refund_id in refunds:
        refund_now(billing, refund_id, now)
    return len(stale) + len(refunds)


def on_stripe_event(billing: Billing, event: dict[str, Any], now: datetime) -> str:
    """A Stripe webhook: settle the payment it is about (once; repeats change nothing)."""
    kind = event.get("type")
    obj = (event.get("data") or {}).get("object") or {}
    if kind not in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        return "ignored"
    with billing.engine.connect() as conn:
        payment = payments_repo.payment_by_intent(conn, str(obj.get("id")))
    if payment is None:
        return "unknown payment"
    if kind == "payment_intent.succeeded":
        finish(billing, payment.id, obj.get("id"), now)
    else:
        error = obj.get("last_payment_error") or {}
        finish(
            billing,
            payment.id,
            obj.get("id"),
            now,
            declined=PaymentDeclined(
                str(error.get("message") or "the payment failed"),
                str(error.get("code") or "payment_failed"),
                error.get("decline_code"),
            ),
        )
    return "settled"
