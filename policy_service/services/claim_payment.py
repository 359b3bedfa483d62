"""Paying claims: an approved claim's first payout and its top-ups, each a ledger entry; a new
claim decided at once when nothing is doubtful. Partner-settled payouts are statement
lines now; stripe-billed ones wait for the worker (services/payouts.py)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from policy_service.domain.claims import (
    Claim,
)
from policy_service.domain.ids import new_id
from policy_service.domain.ledger import payout_entry, period_of
from policy_service.domain.money import MINOR_UNITS, to_minor
from policy_service.domain.records import Policy
from pricing.claim_signals import Signal

from .claims import SYSTEM, Actor, Changes, ClaimsContext, audit_row, claim_event, transition


def _payout(
    changes: Changes,
    claim: Claim,
    amount: Decimal,
    paid_before: Decimal,
    sequence: int,
    stripe: bool,
    now: datetime,
) -> str:
    """A payout row of `amount` on top of `paid_before`; the database refuses a payout that
    does not start where one of the claim's payouts ended, or a second one from there."""
    payout_id = new_id("cpo")
    before = to_minor(paid_before, claim.currency)
    changes.payouts.append(
        {
            "id": payout_id,
            "claim_id": claim.id,
            "sequence": sequence,
            "paid_before": before if sequence > 1 else None,
            "paid_after": before + to_minor(amount, claim.currency),
            "cap": None
            if claim.benefit_cap is None
            else to_minor(claim.benefit_cap, claim.currency),
            "partner_id": claim.partner_id,
            "livemode": claim.livemode,
            "policy_id": claim.policy_id,
            "amount": to_minor(amount, claim.currency),
            "currency": claim.currency,
            "method": "stripe" if stripe else "statement",
            "status": "pending" if stripe else "succeeded",
            "created_at": now,
            "updated_at": now,
        }
    )
    return payout_id


def settle(
    ctx: ClaimsContext, changes: Changes, claim: Claim, policy: Policy, now: datetime
) -> Claim:
    """Pay an approved claim: a statement line now (partner-settled), or a payout for the
    worker to send (stripe)."""
    assert claim.amount_approved is not None
    stripe = policy.payment_intent is not None
    payout_id = _payout(changes, claim, claim.amount_approved, Decimal(0), 1, stripe, now)
    if stripe:
        return claim
    book_payout(
        changes, claim, payout_id, claim.amount_approved, "partner", now, ctx.settlement_timezone
    )
    return transition(
        ctx,
        changes,
        claim,
        "pay",
        SYSTEM,
        now,
        "paid by the partner to its buyer; on the partner's statement",
        amount_paid=claim.amount_approved,
        paid_at=now,
    )


def top_up(
    ctx: ClaimsContext,
    changes: Changes,
    claim: Claim,
    policy: Policy,
    total: Decimal,
    sequence: int,
    now: datetime,
    reason: str,
    **values: Any,
) -> Claim:
    """Raise a paying claim to `total` and pay the difference as payout number `sequence`:
    a statement line now (partner-settled) or a payout for the worker (stripe)."""
    paid_before = claim.amount_approved
    assert paid_before is not None and total > paid_before
    if claim.benefit_cap is not None:
        total = min(total, claim.benefit_cap)
    stripe = policy.payment_intent is not None
    payout_id = _payout(changes, claim, total - paid_before, paid_before, sequence, stripe, now)
    if stripe:
        after = transition(
            ctx,
            changes,
            claim,
            "top_up_pending",
            SYSTEM,
            now,
            reason,
            amount_approved=total,
            **values,
        )
    else:
        book_payout(
            changes, claim, payout_id, total - paid_before, "partner", now, ctx.settlement_timezone
        )
        after = transition(
            ctx,
            changes,
            claim,
            "top_up",
            SYSTEM,
            now,
            reason,
            amount_approved=total,
            amount_paid=total,
            paid_at=now,
            **values,
        )
    changes.events.append(claim_event("claim.topped_up", after, ctx.render))
    return after


def book_payout(
    changes: Changes,
    claim: Claim,
    payout_id: str,
    amount: Decimal,
    collected_by: str,
    now: datetime,
    timezone: str,
) -> None:
    entry = payout_entry(claim.currency, amount, MINOR_UNITS[claim.currency])
    changes.ledger.append(
        (
            claim.partner_id,
            claim.policy_id,
            claim.livemode,
            collected_by,
            entry,
            now,
            period_of(now, timezone),
        )
    )
    changes.ledger_payouts.append((claim.id, payout_id))


def decide_new(
    ctx: ClaimsContext,
    changes: Changes,
    claim: Claim,
    policy: Policy,
    signals: list[Signal],
    now: datetime,
    actor: Actor,
) -> Claim:
    """A claim just submitted: to people if anything is doubtful, else approved and paid."""
    changes.audit.append(audit_row(claim, actor, "submit", now, None))
    changes.events.append(claim_event("claim.created", claim, ctx.render))
    if signals or claim.amount_claimed is None or claim.amount_claimed <= 0:
        reasons = "; ".join(s.reason for s in signals) or "no rule can decide it"
        return transition(
            ctx,
            changes,
            claim,
            "refer",
            SYSTEM,
            now,
            reasons,
            signals=[s.to_json() for s in signals],
        )
    approved = transition(
        ctx,
        changes,
        claim,
        "approve",
        SYSTEM,
        now,
        f"decided by claim rule {claim.type}",
        amount_approved=claim.amount_claimed,
        decided_at=now,
        decided_by="system",
    )
    return settle(ctx, changes, approved, policy, now)
