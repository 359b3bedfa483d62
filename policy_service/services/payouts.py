"""Claim payouts through the Stripe-compatible payment API (stripe billing), sent by the worker.

The payout goes back to the card that paid the premium, as a refund with the claim's
amount and the payout's id as Idempotency-Key: a retry after a lost answer never pays
twice. Partner-settled payouts never come here: they are statement lines (claims.settle).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from policy_service.adapters.stripe_gateway import (
    PaymentDeclined,
    PaymentRejected,
    PaymentUnavailable,
    StripeGateway,
)
from policy_service.domain.claims import ClaimStatus
from policy_service.domain.money import from_minor

from .claim_payment import book_payout
from .claims import SYSTEM, Changes, ClaimsContext, audit_row, transition

log = logging.getLogger(__name__)

#: tries before the claim is marked payout_failed (ops can send it again)
MAX_PAYOUT_ATTEMPTS = 8
#: one sending attempt may take this long before another worker may take the payout over
_LEASE = timedelta(minutes=2)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


def send_pending(ctx: ClaimsContext, gateway: StripeGateway | None, now: datetime) -> int:
    """Send the payouts that are due; returns how many were tried."""
    if gateway is None:
        return 0
    with ctx.uow.read() as tx:
        due = tx.claims.pending_payouts(now, limit=20)
    tried = 0
    for payout_id in due:
        try:
            send(ctx, gateway, payout_id, now)
            tried += 1
        except Exception:
            log.exception("payout %s: could not be sent; will try again", payout_id)
    return tried


def send(ctx: ClaimsContext, gateway: StripeGateway, payout_id: str, now: datetime) -> str:
    """Send one payout if it is still pending and nobody else holds it; returns its status."""
    with ctx.uow.write() as tx:
        if not tx.claims.lease_payout(payout_id, now, now + _LEASE):
            return "busy"
        payout = tx.claims.get_payout(payout_id)
        policy = tx.policies.get(payout.partner_id, payout.livemode, payout.policy_id)
    assert policy is not None
    if policy.payment_intent is None:
        return _failed(ctx, payout_id, now, "the policy has no payment to pay back to", final=True)
    metadata = {
        "claim": payout.claim_id,
        "policy": payout.policy_id,
        "payout": payout.id,
        "kind": "claim_payout",
    }
    try:
        # An earlier attempt (or a worker that died mid-send) may have landed with its
        # answer lost: always look first. The Idempotency-Key covers Stripe for 24 hours;
        # this covers later retries and peers that ignore the key.
        answer = next(
            (
                r
                for r in gateway.list_refunds(policy.payment_intent)
                if (r.get("metadata") or {}).get("payout") == payout.id
            ),
            None,
        )
        if answer is None:
            # No silent resend inside the gateway: a retry is a new attempt, looked up first.
            answer = gateway.create_refund(
                policy.payment_intent, payout.amount, metadata, key=payout.id, retries=0
            )
    except PaymentUnavailable as exc:
        return _failed(ctx, payout_id, now, str(exc), final=False)
    except (PaymentRejected, PaymentDeclined) as exc:
        return _failed(ctx, payout_id, now, str(exc), final=True)
    with ctx.uow.write() as tx:
        if not tx.claims.update_payout(
            payout_id,
            "pending",
            status="succeeded",
            stripe_refund=answer.get("id"),
            attempts=payout.attempts + 1,
            lease_until=None,
            updated_at=now,
        ):
            return "busy"
        claim = tx.claims.get(payout.claim_id, for_update=True)
        assert claim is not None
        changes = Changes.empty()
        amount = from_minor(payout.amount, payout.currency)
        paid_so_far = (claim.amount_paid or 0) + amount
        unpaid = [
            p
            for p in tx.claims.payouts_of(claim.id)
            if p.id != payout.id and p.status != "succeeded"
        ]
        reason = f"payout {payout.sequence} paid through the payment API ({answer.get('id')})"
        if unpaid:
            # A top-up is still to be sent (or failed): the claim is not paid in full yet.
            paid = replace(claim, amount_paid=paid_so_far, updated_at=now)
            changes.audit.append(
                audit_row(paid, SYSTEM, "payout_sent", now, claim, reason, ("amount_paid",))
            )
        else:
            paid = transition(
                ctx,
                changes,
                claim,
                "pay",
                SYSTEM,
                now,
                reason,
                amount_paid=paid_so_far,
                paid_at=now,
            )
        book_payout(changes, paid, payout.id, amount, "us", now, ctx.settlement_timezone)
        tx.claims.update(paid, claim.status)
        changes.write(tx)
    log.info("payout %s of claim %s: paid (%s)", payout_id, payout.claim_id, answer.get("id"))
    return "succeeded"


def _failed(ctx: ClaimsContext, payout_id: str, now: datetime, error: str, final: bool) -> str:
    with ctx.uow.write() as tx:
        payout = tx.claims.get_payout(payout_id)
        attempts = payout.attempts + 1
        give_up = final or attempts >= MAX_PAYOUT_ATTEMPTS
        if not tx.claims.update_payout(
            payout_id,
            "pending",
            status="failed" if give_up else "pending",
            attempts=attempts,
            last_error=error[:500],
            # not before: the back-off, kept in the lease column
            lease_until=None if give_up else now + _backoff(attempts),
            updated_at=now,
        ):
            return "busy"  # settled meanwhile (e.g. by another worker)
        if give_up:
            claim = tx.claims.get(payout.claim_id, for_update=True)
            assert claim is not None
            changes = Changes.empty()
            if claim.status == ClaimStatus.APPROVED.value:
                after = transition(
                    ctx, changes, claim, "fail_payout", SYSTEM, now, f"payout failed: {error}"
                )
                tx.claims.update(after, claim.status)
            else:  # a retried payout failed again: it stays payout_failed
                changes.audit.append(
                    audit_row(
                        claim, SYSTEM, "payout_attempt", now, None, f"payout failed again: {error}"
                    )
                )
            changes.write(tx)
    (log.error if give_up else log.warning)(
        "payout %s %s: %s", payout_id, "given up" if give_up else "will be retried", error
    )
    return "failed" if give_up else "pending"
