"""A claim the partner files for a case no trigger covers: people decide it. A report
about the same flight or order that the claim contradicts is a signal for them."""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from policy_service.domain.claims import (
    Claim,
    ClaimStatus,
)
from policy_service.domain.errors import (
    BusinessRefusal,
    Conflict,
    InvalidRequest,
    NotFound,
)
from policy_service.domain.ids import has_prefix
from policy_service.domain.records import Caller, Policy
from pricing.claim_signals import Signal
from pricing.claims import benefit, benefit_cap
from pricing.claims import decide as decide_rules
from pricing.model import Edition

from .claim_payment import decide_new
from .claims import (
    Actor,
    Changes,
    ClaimsContext,
    amount_of,
    loss_key_of,
    new_claim,
    pinned_edition,
    policy_facts,
    signals_for,
    text_of,
)
from .unit_of_work import Tx

_FILE_FIELDS = {"policy", "type", "description", "evidence", "amount_claimed"}


_EVIDENCE_REF = re.compile(r"^[A-Za-z0-9-]{4,40}$")


def file_claim(ctx: ClaimsContext, tx: Tx, caller: Caller, body: Any, now: datetime) -> Claim:
    """A claim the partner files for a case no trigger covers: people decide it."""
    if not isinstance(body, dict):
        raise InvalidRequest("must be an object")
    unknown = set(body) - _FILE_FIELDS
    if unknown:
        raise InvalidRequest("is not a field of a claim", param=sorted(unknown)[0])
    policy_id = body.get("policy")
    if not isinstance(policy_id, str) or not has_prefix(policy_id, "pol"):
        raise InvalidRequest("must be a policy id (pol_...)", param="policy")
    # Locked: a cancellation racing this filing sees the claim, or this filing sees it.
    policy = tx.policies.get(caller.partner_id, caller.livemode, policy_id, for_update=True)
    if policy is None:
        raise NotFound(f"no policy {policy_id}", param="policy")
    edition = pinned_edition(ctx.catalog, policy)
    kind = text_of(body.get("type"), "type", required=True, limit=60)
    assert kind is not None
    if benefit(edition, kind) is None:
        codes = ", ".join(b.code for b in edition.benefits)
        raise InvalidRequest(f"must be a benefit of the policy: {codes}", param="type")
    description = text_of(body.get("description"), "description", required=True)
    evidence = body.get("evidence", {})
    if not isinstance(evidence, dict):
        raise InvalidRequest("must be an object", param="evidence")
    if len(json.dumps(evidence)) > 20_000:
        raise InvalidRequest("must be at most 20,000 characters as JSON", param="evidence")
    amount = None
    if body.get("amount_claimed") is not None:
        amount = amount_of(body["amount_claimed"], edition.currency, "amount_claimed")
        cap = benefit_cap(edition)
        if cap is not None and amount > cap:
            raise BusinessRefusal(
                f"{amount} {edition.currency} is more than the policy's largest benefit "
                f"({cap} {edition.currency})",
                code="amount_above_benefit",
                param="amount_claimed",
            )
    if policy.status not in ("active", "expired"):
        raise BusinessRefusal(
            f"policy {policy.id} is {policy.status}; only a policy that was in force can be "
            "claimed on",
            code="policy_not_in_force",
            param="policy",
        )
    tracking = evidence.get("tracking_number")
    evidence_ref = (
        tracking.upper() if isinstance(tracking, str) and _EVIDENCE_REF.match(tracking) else None
    )
    signals = [Signal("filed_claim", "filed by the partner; no trigger decides it")]
    contradiction = _contradicting_report(ctx, tx, edition, policy, kind, amount)
    if contradiction:
        signals.append(contradiction)
    signals += signals_for(
        tx,
        edition,
        policy,
        amount,
        now,
        evidence_ref,
        f"tracking number {evidence_ref}",
        now,
    )
    claim = new_claim(
        policy,
        edition.currency,
        loss_key_of(edition, kind),
        "filed",
        kind,
        now,
        amount_claimed=amount,
        description=description,
        evidence=evidence,
        observed_at=now,
        evidence_ref=evidence_ref,
        benefit_cap=benefit_cap(edition),
    )
    if not tx.claims.insert_claims([claim]):
        existing = tx.claims.for_policies([policy.id], claim.loss_key).get(policy.id)
        raise Conflict(
            f"policy {policy.id} already has claim {existing.id if existing else ''} for this "
            "loss; one loss is paid once",
            code="duplicate_claim",
            param="policy",
        )
    changes = Changes.empty()
    actor = Actor("partner", caller.partner_id)
    claim = decide_new(ctx, changes, claim, policy, signals, now, actor)
    tx.claims.update(claim, ClaimStatus.SUBMITTED.value)
    changes.write(tx)
    return claim


def _contradicting_report(
    ctx: ClaimsContext, tx: Tx, edition: Edition, policy: Policy, kind: str, amount: Decimal | None
) -> Signal | None:
    """A report about the policy's flight or order that the claim contradicts: the rules,
    run on that report, pay nothing (or less than claimed)."""
    loss = loss_key_of(edition, kind)
    trigger = ctx.catalog.trigger_type(loss)
    if trigger is None:
        return None
    report = tx.triggers.latest_report_on_policy(policy.id, loss)
    if report is None:
        return None
    values = trigger.parse(report.data)
    facts = policy_facts(policy)
    event_time = report.event_time or trigger.event_time_of(values, report.observed_at)
    decision = decide_rules(
        edition,
        loss,
        edition.inputs.parse(policy.risk),
        facts,
        values,
        report.observed_at,
        event_time,
    )
    if decision.pays and (amount is None or amount <= (decision.amount or 0)):
        return None
    said = ", ".join(f"{k}={v}" for k, v in report.data.items() if k not in trigger.subjects[0])
    outcome = f"pays {decision.amount} {edition.currency}" if decision.pays else "pays nothing"
    return Signal(
        "trigger_contradicts_claim",
        f"report {report.id} ({said}) {outcome} under the product's rules",
    )
