"""Claims: their record and lifecycle (an explicit transition table); the fraud signals are
pricing/claim_signals.py, shared with the products' test cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from .errors import InvalidTransition


class ClaimStatus(StrEnum):
    SUBMITTED = "submitted"  # received, not decided yet
    IN_REVIEW = "in_review"  # people decide
    APPROVED = "approved"  # to be paid
    REJECTED = "rejected"
    PAID = "paid"
    PAYOUT_FAILED = "payout_failed"  # the payment did not go through; it can be retried


S = ClaimStatus

CLAIM_STATUSES = tuple(s.value for s in ClaimStatus)
#: trigger (decided from a trigger event) or filed (by the partner)
CLAIM_ORIGINS = ("trigger", "filed")
#: who decided a claim, as partners see it
DECIDED_BY = ("system", "staff")
#: statement (partner-settled: the partner pays its buyer) or stripe (the payment API)
PAYOUT_METHODS = ("statement", "stripe")
PAYOUT_STATUSES = ("pending", "succeeded", "failed")
#: processed | superseded (a later report was already applied) | premature (observed
#: before its loss can have happened)
TRIGGER_STATUSES = ("processed", "superseded", "premature")

#: status -> {action: new status}
CLAIM_TRANSITIONS: dict[ClaimStatus, dict[str, ClaimStatus]] = {
    S.SUBMITTED: {"approve": S.APPROVED, "reject": S.REJECTED, "refer": S.IN_REVIEW},
    S.IN_REVIEW: {
        "approve": S.APPROVED,
        "reject": S.REJECTED,
        # a first approval above the authority limit: waits for a second approver
        "approve_first": S.IN_REVIEW,
        "request_info": S.IN_REVIEW,
        "add_information": S.IN_REVIEW,
        "correct": S.IN_REVIEW,
    },
    # A top-up (a later report reaching a higher tier) settled at once keeps a paid claim
    # paid; one the payment API still has to send leaves it approved until then.
    S.APPROVED: {"pay": S.PAID, "fail_payout": S.PAYOUT_FAILED, "top_up_pending": S.APPROVED},
    S.PAYOUT_FAILED: {
        "pay": S.PAID,
        "retry_payout": S.PAYOUT_FAILED,
        "top_up_pending": S.PAYOUT_FAILED,
    },
    S.REJECTED: {},
    S.PAID: {"top_up": S.PAID, "top_up_pending": S.APPROVED},
}

#: where people can still change the decision
OPEN_STATUSES = (S.SUBMITTED.value, S.IN_REVIEW.value)
#: decided to pay: the policy's premium is no longer refunded
PAYING_STATUSES = (S.APPROVED.value, S.PAID.value, S.PAYOUT_FAILED.value)


def claim_transition(current: str, action: str) -> ClaimStatus:
    """The status after `action`, or InvalidTransition naming both."""
    status = ClaimStatus(current)
    target = CLAIM_TRANSITIONS[status].get(action)
    if target is None:
        raise InvalidTransition(
            f"a claim that is {status.value} cannot be {action.replace('_', ' ')}d"
            if action.endswith("e")
            else f"a claim that is {status.value} does not allow {action.replace('_', ' ')}",
            code=f"claim_{status.value}",
        )
    return target


SIGNAL_CODES = (
    "issued_after_event",
    "soon_after_issue",
    "repeat_claimant",
    "above_auto_approve_limit",
    "evidence_reused",
    "trigger_contradicts_claim",
    "product_rule",
    "cannot_decide",
    "filed_claim",
)


@dataclass(frozen=True)
class Claim:
    id: str
    partner_id: str
    livemode: bool
    policy_id: str
    product_code: str
    edition: str
    content_hash: str
    loss_key: str
    origin: str
    type: str
    status: str
    currency: str
    amount_claimed: Decimal | None
    amount_approved: Decimal | None
    amount_paid: Decimal | None
    description: str | None
    evidence: dict[str, Any]
    trigger_event_id: str | None
    observed_at: datetime | None
    #: when the loss happened, as its trigger reported it (None: a filed claim)
    event_time: datetime | None
    #: the most the claim may pay (the edition's largest benefit; None: no benefit declared)
    benefit_cap: Decimal | None
    evaluation: dict[str, Any] | None
    corrections: list[dict[str, Any]]
    signals: list[dict[str, str]]
    evidence_ref: str | None
    holder_key: str | None
    first_approval: dict[str, Any] | None
    info_requested_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None
    reject_code: str | None
    paid_at: datetime | None
    created_at: datetime
    updated_at: datetime


REJECT_CODES = (
    "not_covered",
    "outside_cover_period",
    "duplicate",
    "fraud_suspected",
    "insufficient_evidence",
    "policy_not_in_force",
    "policy_cancelled",
    "other",
)
