"""People's decisions on a claim (the ops console and /v1/ops call the same function):
approve (above SECOND_APPROVAL_ABOVE a second, different approver confirms), reject,
request information, send a failed payout again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from policy_service.domain.claims import (
    REJECT_CODES,
    Claim,
    claim_transition,
)
from policy_service.domain.errors import (
    BusinessRefusal,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
)
from policy_service.domain.ids import has_prefix
from pricing.claims import benefit_cap

from .claim_payment import settle
from .claims import (
    Actor,
    Changes,
    ClaimsContext,
    amount_of,
    claim_event,
    pinned_edition,
    text_of,
    transition,
)
from .unit_of_work import Tx


@dataclass(frozen=True)
class Decision:
    action: str  # approve | reject | request_info | retry_payout
    amount: Any = (
        None  # approve: money (or an amount in the claim's currency), else the claimed amount
    )
    reason: Any = None
    reject_code: Any = None


def decide(
    ctx: ClaimsContext, claim_id: str, staff: Actor, decision: Decision, now: datetime
) -> Claim:
    """One staff decision on a claim, in one transaction; the console and /v1/ops call it."""
    with ctx.uow.write() as tx:
        claim = tx.claims.get(claim_id, for_update=True) if has_prefix(claim_id, "clm") else None
        if claim is None:
            raise NotFound(f"no claim {claim_id}")
        changes = Changes.empty()
        if decision.action == "approve":
            after = _approve(ctx, tx, changes, claim, staff, decision, now)
        elif decision.action == "reject":
            after = _reject(ctx, changes, claim, staff, decision, now)
        elif decision.action == "request_info":
            reason = text_of(decision.reason, "reason", required=True)
            after = transition(
                ctx,
                changes,
                claim,
                "request_info",
                staff,
                now,
                reason,
                info_requested_at=now,
            )
            # The partner answers with an attachment: tell it what is asked.
            changes.events.append(claim_event("claim.information_requested", after, ctx.render))
        elif decision.action == "retry_payout":
            after = _retry_payout(ctx, tx, changes, claim, staff, now)
        else:
            raise InvalidRequest(
                "must be approve, reject, request_info or retry_payout", param="action"
            )
        if not tx.claims.update(after, claim.status):
            raise Conflict("the claim changed meanwhile; reload it", code="concurrent_update")
        changes.write(tx)
        return after


def _approve(
    ctx: ClaimsContext,
    tx: Tx,
    changes: Changes,
    claim: Claim,
    staff: Actor,
    decision: Decision,
    now: datetime,
) -> Claim:
    claim_transition(claim.status, "approve")  # refuse a closed claim before anything else
    reason = text_of(decision.reason, "reason")
    policy = tx.policies.get(claim.partner_id, claim.livemode, claim.policy_id)
    assert policy is not None
    edition = pinned_edition(ctx.catalog, policy)
    if isinstance(decision.amount, str):  # the console's form: in the claim's currency
        amount = amount_of(
            {"amount": decision.amount, "currency": claim.currency}, claim.currency, "amount"
        )
    elif decision.amount is not None:
        amount = amount_of(decision.amount, claim.currency, "amount")
    elif claim.amount_claimed is not None and claim.amount_claimed > 0:
        amount = claim.amount_claimed
    else:
        raise InvalidRequest("the claim names no amount: give one", param="amount")
    cap = benefit_cap(edition)
    if cap is not None and amount > cap:
        raise BusinessRefusal(
            f"{amount} {claim.currency} is more than the policy's largest benefit "
            f"({cap} {claim.currency})",
            code="amount_above_benefit",
            param="amount",
        )
    if amount != claim.amount_claimed and not reason:
        raise InvalidRequest("say why the amount differs from the claim", param="reason")
    limit = ctx.second_approval_above
    if amount > limit:
        first = claim.first_approval
        if first is None or Decimal(first["amount"]) != amount:
            # Four eyes above the limit: this approval waits for a different approver.
            return transition(
                ctx,
                changes,
                claim,
                "approve_first",
                staff,
                now,
                f"first approval of {amount} {claim.currency}, above the "
                f"{limit} {claim.currency} limit: a second approver must confirm"
                + (f"; {reason}" if reason else ""),
                first_approval={
                    "by": staff.id,
                    "email": staff.label,
                    "amount": str(amount),
                    "reason": reason,
                    "at": now.isoformat(),
                },
            )
        if first["by"] == staff.id:
            raise PermissionDenied(
                f"approvals above {limit} {claim.currency} need a second, different approver",
                code="second_approver_required",
            )
        if staff.role not in ("approver", "admin"):
            raise PermissionDenied(
                f"a second approval above {limit} {claim.currency} needs the approver role",
                code="approver_role_required",
            )
    approved = transition(
        ctx,
        changes,
        claim,
        "approve",
        staff,
        now,
        reason or "approved",
        amount_approved=amount,
        decided_at=now,
        decided_by=staff.id,
        decision_reason=reason,
        info_requested_at=None,
    )
    return settle(ctx, changes, approved, policy, now)


def _reject(
    ctx: ClaimsContext,
    changes: Changes,
    claim: Claim,
    staff: Actor,
    decision: Decision,
    now: datetime,
) -> Claim:
    if decision.reject_code not in REJECT_CODES:
        raise InvalidRequest(f"must be one of: {', '.join(REJECT_CODES)}", param="reject_code")
    reason = text_of(decision.reason, "reason", required=True)
    return transition(
        ctx,
        changes,
        claim,
        "reject",
        staff,
        now,
        f"{decision.reject_code}: {reason}",
        reject_code=decision.reject_code,
        decision_reason=reason,
        decided_at=now,
        decided_by=staff.id,
        first_approval=None,
    )


def _retry_payout(
    ctx: ClaimsContext,
    tx: Tx,
    changes: Changes,
    claim: Claim,
    staff: Actor,
    now: datetime,
) -> Claim:
    after = transition(ctx, changes, claim, "retry_payout", staff, now, "payout sent again")
    failed = [p for p in tx.claims.payouts_of(claim.id) if p.status == "failed"]
    if not failed:
        raise Conflict("the payout is not in a failed state", code="payout_not_failed")
    for payout in failed:
        if not tx.claims.update_payout(
            payout.id, "failed", status="pending", attempts=0, last_error=None, updated_at=now
        ):
            raise Conflict("the payout changed meanwhile; reload", code="concurrent_update")
    return after
