"""Cancelling a policy, by its partner or by a trigger that voids it (a schedule change).

The product's refund rule decides the refund, unless a claim on the policy is approved or
paid: then nothing is refunded (a buyer is never both paid and refunded). A cancel while a
claim is still open is refused (409 naming the claim), or, if the edition says
`cancel_while_claim_open: reject_claim`, the open claim is rejected and the refund rule
applies. The policy row is locked first, and a trigger settlement locks it too, so a
cancel and a settlement on one policy run one after the other.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from policy_service.adapters import (
    events_repo,
)
from policy_service.domain.claims import OPEN_STATUSES, PAYING_STATUSES, Claim
from policy_service.domain.errors import Conflict, InvalidRequest, ProductDefect
from policy_service.domain.ids import new_id
from policy_service.domain.ledger import period_of, refund_entry
from policy_service.domain.lifecycle import PolicyStatus, policy_transition
from policy_service.domain.money import MINOR_UNITS, to_minor
from policy_service.domain.records import CANCEL_REASONS, Caller, Policy
from pricing import engine
from pricing.errors import EvaluationError
from pricing.model import Edition

from .claims import SYSTEM, Changes, ClaimsContext, pinned_edition, transition
from .outbox import record_events
from .policies import policy_of
from .refund_allocation import allocate
from .unit_of_work import Tx

log = logging.getLogger(__name__)

#: the reason of a policy voided by a claim rule with `refund: full`
TRIGGER_REFUND = "trigger_refund"


def cancel_policy(
    ctx: ClaimsContext,
    tx: Tx,
    caller: Caller,
    policy_id: str,
    reason: Any,
    now: datetime,
) -> tuple[Policy, str | None]:
    """Cancel per the product's refund rule; the refund is in the returned policy. Returns
    the id of a refund still to send to the payment API (stripe billing), if any."""
    if reason not in CANCEL_REASONS:
        raise InvalidRequest(f"must be one of: {', '.join(CANCEL_REASONS)}", param="reason")
    policy = policy_of(tx, caller, policy_id, for_update=True)
    policy_transition(policy.status, "cancel")  # a closed policy is refused first
    edition = pinned_edition(ctx.catalog, policy)
    claims = tx.claims.of_policy(policy.id, for_update=True)
    changes = Changes.empty()
    open_claims = [c for c in claims if c.status in OPEN_STATUSES]
    if open_claims and edition.cancel_while_claim_open == "refuse":
        first = open_claims[0]
        raise Conflict(
            f"policy {policy.id} has claim {first.id} {first.status.replace('_', ' ')}; it "
            "cannot be cancelled until the claim is decided",
            code="claim_in_review",
            details={"claim": first.id},
        )
    _reject_open(ctx, tx, changes, open_claims, now, "the policy was cancelled by its partner")
    paying = [c for c in claims if c.status in PAYING_STATUSES]
    refund = Decimal(0) if paying else _refund_by_rule(edition, policy, now)
    if paying:
        log.info("policy %s cancelled with no refund: claim %s pays", policy.id, paying[0].id)
    cancelled, pending = void(ctx, tx, policy, reason, refund, now)
    changes.write(tx)
    return cancelled, pending


def void_by_trigger(
    ctx: ClaimsContext, tx: Tx, policy: Policy, now: datetime, why: str
) -> tuple[Policy | None, str | None]:
    """A claim rule with `refund: full` voids the (locked) policy with its whole premium
    refunded; an open claim is rejected. Nothing is refunded once a claim pays, nor for a
    policy no longer in force: then (None, None)."""
    if policy.status != PolicyStatus.ACTIVE.value:
        return None, None
    claims = tx.claims.of_policy(policy.id, for_update=True)
    if any(c.status in PAYING_STATUSES for c in claims):
        return None, None
    changes = Changes.empty()
    _reject_open(ctx, tx, changes, [c for c in claims if c.status in OPEN_STATUSES], now, why)
    voided, pending = void(ctx, tx, policy, TRIGGER_REFUND, policy.premium.total, now)
    changes.write(tx)
    return voided, pending


def _reject_open(
    ctx: ClaimsContext,
    tx: Tx,
    changes: Changes,
    claims: list[Claim],
    now: datetime,
    why: str,
) -> None:
    for claim in claims:
        after = transition(
            ctx,
            changes,
            claim,
            "reject",
            SYSTEM,
            now,
            why,
            reject_code="policy_cancelled",
            decision_reason=why,
            decided_at=now,
            decided_by="system",
            first_approval=None,
        )
        if not tx.claims.update(after, claim.status):
            raise Conflict(
                "a claim of the policy changed meanwhile; retry", code="concurrent_update"
            )


def _refund_by_rule(edition: Edition, policy: Policy, now: datetime) -> Decimal:
    try:
        refund, _rule = engine.refund_for(
            edition,
            policy.premium.total,
            edition.inputs.parse(policy.risk),
            policy.coverage_start,
            policy.coverage_end,
            policy.created_at,
            now,
        )
    except EvaluationError as exc:
        log.error("product %s could not compute the refund of %s: %s", edition.ref, policy.id, exc)
        raise ProductDefect(
            f"product {edition.ref} could not compute the refund of this policy; the product "
            "team has been alerted and nothing was changed"
        ) from None
    return refund


def void(
    ctx: ClaimsContext,
    tx: Tx,
    policy: Policy,
    reason: str,
    refund: Decimal,
    now: datetime,
) -> tuple[Policy, str | None]:
    """Cancel the locked policy with `refund`: releases its cover, records the refund and
    the event. Returns the cancelled policy and a refund still to send, if any."""
    new_status = policy_transition(policy.status, "cancel")
    if not tx.policies.update_cancelled(policy, new_status.value, reason, refund, now):
        raise Conflict("the policy changed while cancelling; retry", code="concurrent_update")
    tx.policies.release_covers([policy.id])
    pending_refund = _record_refund(tx, policy, refund, now, ctx.settlement_timezone)
    cancelled = replace(
        policy,
        status=new_status.value,
        cancelled_at=now,
        cancel_reason=reason,
        refund_amount=refund,
        updated_at=now,
    )
    record_events(
        tx,
        [
            events_repo.NewEvent(
                id=new_id("evt"),
                partner_id=cancelled.partner_id,
                livemode=cancelled.livemode,
                type="policy.cancelled",
                object_type="policy",
                object_id=cancelled.id,
                data=json.loads(json.dumps(ctx.render_policy(cancelled))),
                created_at=now,
            )
        ],
    )
    return cancelled, pending_refund


def _record_refund(
    tx: Tx, policy: Policy, refund: Decimal, now: datetime, timezone: str
) -> str | None:
    """Partner-settled: the partner pays the buyer back; the ledger records it now.
    Stripe: a refund to send through the payment API (its ledger entry follows success)."""
    if refund <= 0:
        return None
    currency = policy.premium.currency
    row = {
        "id": new_id("rfd"),
        "partner_id": policy.partner_id,
        "livemode": policy.livemode,
        "policy_id": policy.id,
        "amount": to_minor(refund, currency),
        "currency": currency,
        "created_at": now,
        "updated_at": now,
    }
    payment = tx.payments.payment_of_policy(policy.id)
    if payment is not None:
        parts = allocate(tx, policy.id, to_minor(refund, currency))
        tx.payments.insert_refund(
            {**row, "payment_id": parts[0]["payment"], "allocation": parts, "status": "pending"}
        )
        return str(row["id"])
    tx.payments.insert_refund({**row, "status": "succeeded"})
    entry = refund_entry(policy.premium, refund, MINOR_UNITS[currency])
    tx.ledger.insert_entries(
        [
            (
                policy.partner_id,
                policy.id,
                policy.livemode,
                "partner",
                entry,
                now,
                period_of(now, timezone),
            )
        ],
    )
    return None
