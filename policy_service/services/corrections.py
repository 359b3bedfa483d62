"""A later report on a loss that already has a claim: the claim follows the new facts
while people can still decide it; once decided it keeps its decision (nothing is paid
twice, nothing clawed back) and records the correction, unless the new facts reach a
higher tier of a claim paying what its rules said: then it is topped up by the
difference, as a further payout."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from policy_service.domain.claims import OPEN_STATUSES, PAYING_STATUSES, Claim
from policy_service.domain.records import Policy
from pricing.claim_signals import Signal
from pricing.claims import Decision
from pricing.model import Edition

from .claim_payment import top_up
from .claims import SYSTEM, Changes, ClaimsContext, audit_row, transition
from .reports import Report


def correct(
    ctx: ClaimsContext,
    report: Report,
    old: Claim,
    policy: Policy,
    edition: Edition,
    decision: Decision,
    evaluation: dict[str, Any],
    payout_count: int,
    now: datetime,
) -> tuple[Claim, Changes, str] | None:
    """A later report on a loss that already has a claim. An open claim follows the new
    facts; a decided one keeps its decision (nothing is paid twice or clawed back) and
    records the correction for people to see, unless the new facts reach a higher tier of
    a claim paying what its rules said: then it is topped up by the difference."""
    if old.trigger_event_id == report.id:
        return None
    if (
        old.trigger_event_id is not None
        and old.observed_at
        and old.observed_at >= report.observed_at
    ):
        return None  # the claim already follows a later report
    pays = decision.pays
    note: dict[str, Any] = {
        "trigger_event": report.id,
        "observed_at": report.observed_at.isoformat(),
        "received_at": now.isoformat(),
        "result": evaluation["result"],
        "amount": evaluation["amount"],
        "rule": evaluation["rule"],
    }
    changes = Changes.empty()
    common = {
        "trigger_event_id": report.id,
        "observed_at": report.observed_at,
        "event_time": report.event_time,
        "evaluation": evaluation,
    }
    if old.origin == "filed" and old.status in OPEN_STATUSES:
        # People decide a filed claim; the report is evidence for them, not a decision.
        claimed = old.amount_claimed
        contradicts = not pays or (
            claimed is not None and decision.amount is not None and claimed > decision.amount
        )
        signals = list(old.signals)
        if contradicts:
            outcome = f"pays {decision.amount}" if pays else "pays nothing"
            signals.append(
                Signal(
                    "trigger_contradicts_claim",
                    f"report {report.id} {outcome} under the product's rules",
                ).to_json()
            )
        after = transition(
            ctx,
            changes,
            old,
            "correct",
            SYSTEM,
            now,
            f"report {report.id}: {evaluation['result']}",
            signals=signals,
            corrections=[*old.corrections, note],
            **common,
        )
        return after, changes, "corrected"
    if old.status in OPEN_STATUSES:
        if not pays and not decision.problem:
            reason = (
                f"a corrected report: {decision.outside_cover}"
                if decision.outside_cover
                else "a corrected report no longer meets any claim rule"
            )
            after = transition(
                ctx,
                changes,
                old,
                "reject",
                SYSTEM,
                now,
                reason,
                reject_code="outside_cover_period" if decision.outside_cover else "not_covered",
                decision_reason=reason,
                decided_at=now,
                decided_by="system",
                first_approval=None,
                corrections=[*old.corrections, note],
                **common,
            )
            return after, changes, "rejected_by_correction"
        after = transition(
            ctx,
            changes,
            old,
            "correct",
            SYSTEM,
            now,
            f"corrected report: {evaluation['result']}"
            + (f" {decision.amount} {old.currency}" if decision.amount is not None else ""),
            amount_claimed=decision.amount if decision.amount is not None else old.amount_claimed,
            type=decision.rule.code if decision.rule else old.type,
            first_approval=None,
            corrections=[*old.corrections, note],
            **common,
        )
        return after, changes, "corrected"
    paid = old.amount_approved
    if old.status in PAYING_STATUSES and pays and _tops_up(old, edition, decision):
        assert decision.amount is not None and paid is not None and decision.rule is not None
        total = min(decision.amount, old.benefit_cap or decision.amount)
        note["top_up"] = {"amount": str(total - paid), "currency": old.currency}
        after = top_up(
            ctx,
            changes,
            old,
            policy,
            total,
            payout_count + 1,
            now,
            f"report {report.id} reaches claim rule {decision.rule.code}: topped up from "
            f"{paid} to {total} {old.currency}",
            type=decision.rule.code,
            amount_claimed=total,
            corrections=[*old.corrections, note],
            **common,
        )
        return after, changes, "topped_up"
    # Decided already: keep the decision, note the correction.
    after = replace(old, corrections=[*old.corrections, note], updated_at=now)
    new_amount = decision.amount if pays else None
    reason = (
        f"correction received after the claim was {old.status}: the corrected report "
        f"{'pays ' + str(new_amount) + ' ' + old.currency if new_amount else 'pays nothing'}"
        f" (decided: {paid} {old.currency}); the decision stands and nothing is paid twice"
    )
    changes.audit.append(audit_row(after, SYSTEM, "note_correction", now, old, reason))
    return after, changes, "corrected"


def _tops_up(old: Claim, edition: Edition, decision: Decision) -> bool:
    """A later report tops up a paying trigger claim that pays what its rules said (people
    who approved another amount decided otherwise), within the product's automatic limit."""
    amount, paid = decision.amount, old.amount_approved
    if amount is None or paid is None or amount <= paid:
        return False
    if old.origin != "trigger" or old.amount_claimed != paid:
        return False
    limit = edition.claim_review.auto_approve_up_to
    return limit is None or min(amount, old.benefit_cap or amount) <= limit
