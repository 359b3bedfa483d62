"""Trigger events: a fact about the world settles every policy it concerns, in one pass.

The event is recorded and applied in one transaction, under a lock on its subject (the
flight, the order), so two reports about one flight are applied one after the other.
Of two reports on one subject the later observed one counts: an older report arriving
late is kept but changes nothing. The same report posted twice is one event.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from policy_service.adapters import claims_repo, policies_repo
from policy_service.domain.claims import OPEN_STATUSES, Claim, ClaimStatus, Signal
from policy_service.domain.errors import InvalidRequest, PermissionDenied
from policy_service.domain.ids import new_id
from policy_service.domain.records import Caller, Policy
from pricing.claims import decide, policy_subject_keys, trigger_subject_keys
from pricing.errors import InputErrors
from pricing.inputs import parse_datetime
from pricing.model import Edition
from pricing.triggers import TRIGGER_TYPES, TriggerType, subject_key, to_json

from .claims import (
    SYSTEM,
    Actor,
    Changes,
    ClaimsContext,
    audit_row,
    decide_new,
    new_claim,
    policy_facts,
    signals_for,
    transition,
)

log = logging.getLogger(__name__)

_FIELDS = {"type", "data", "observed_at"}
#: a report may be stamped a little ahead of our clock, not more
_CLOCK_SKEW = timedelta(minutes=5)
#: policies a trigger can still pay: in force, or whose cover ended (the fact may come late)
_MATCHABLE = ("active", "expired")


@dataclass
class Result:
    matched: int = 0
    claims_created: int = 0
    paid: int = 0
    approved: int = 0
    in_review: int = 0
    not_covered: int = 0
    corrected: int = 0
    rejected_by_correction: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "skipped"}
        if self.skipped:
            out["skipped"] = self.skipped[:20]
        return out


def _invalid(exc: InputErrors) -> InvalidRequest:
    first = exc.errors[0]
    return InvalidRequest(
        first.message,
        param=first.param,
        code=first.code,
        details={"errors": [{"param": e.param, "message": e.message} for e in exc.errors]},
    )


def _source(caller: Caller) -> tuple[str, str, str | None]:
    """(source type, source id, partner whose policies alone it may touch)."""
    if caller.provider_id is not None:
        return "provider", caller.provider_id, None
    if caller.livemode:
        raise PermissionDenied(
            "in live mode only data-provider keys may post trigger events "
            "(`policy-service providers create NAME`); use a test key to simulate one",
            code="provider_key_required",
        )
    return "partner", caller.partner_id, caller.partner_id


def post_trigger(
    ctx: ClaimsContext, caller: Caller, body: Any, now: datetime
) -> tuple[sa.Row[Any], bool]:
    """Record and apply a trigger; returns its row and whether it is new (False: the same
    report was posted before, and nothing was done again)."""
    source_type, source_id, partner_scope = _source(caller)
    if not isinstance(body, dict):
        raise InvalidRequest("must be an object")
    unknown = set(body) - _FIELDS
    if unknown:
        raise InvalidRequest("is not a field of a trigger event", param=sorted(unknown)[0])
    trigger = TRIGGER_TYPES.get(body.get("type"))  # type: ignore[arg-type]
    if trigger is None:
        raise InvalidRequest(f"must be one of: {', '.join(TRIGGER_TYPES)}", param="type")
    try:
        values = trigger.parse(body.get("data"), "data")
    except InputErrors as exc:
        raise _invalid(exc) from None
    observed_at = now
    if body.get("observed_at") is not None:
        try:
            observed_at = parse_datetime(body["observed_at"])
        except ValueError as exc:
            raise InvalidRequest(str(exc), param="observed_at") from None
        if observed_at > now + _CLOCK_SKEW:
            raise InvalidRequest("is in the future", param="observed_at")
    data = to_json(trigger, values)
    fingerprint = hashlib.sha256(
        json.dumps(
            {"type": trigger.name, "data": data, "observed_at": body.get("observed_at")},
            sort_keys=True,
        ).encode()
    ).hexdigest()
    subject = trigger.subject_of(values)
    assert subject is not None  # parse() checked it
    if partner_scope is None and "external_ref" in subject:
        raise InvalidRequest(
            "external_ref is the selling partner's own order id: a data provider names the "
            "order by platform and order_id",
            param="data.external_ref",
        )
    key = subject_key(trigger.name, caller.livemode, subject, values)
    if partner_scope is not None:
        # A partner's simulation is a subject of its own: it never supersedes, nor is
        # superseded by, another partner's or a provider's reports.
        key = hashlib.sha256(f"{key}\x1f{partner_scope}".encode()).hexdigest()
    trigger_id = new_id("trg")
    row: dict[str, Any] = {
        "id": trigger_id,
        "livemode": caller.livemode,
        "source_type": source_type,
        "source_id": source_id,
        "type": trigger.name,
        "data": data,
        "subject_key": key,
        "observed_at": observed_at,
        "received_at": now,
        "fingerprint": fingerprint,
        "status": "processed",
        "result": {},
    }
    with ctx.engine.begin() as conn:
        if not claims_repo.insert_trigger(conn, row):
            existing = claims_repo.trigger_by_fingerprint(
                conn, source_id, caller.livemode, fingerprint
            )
            assert existing is not None
            return existing, False
        claims_repo.lock_subject(conn, key)
        if trigger.evidence_field and values.get(trigger.evidence_field):
            # Two orders claiming with one parcel must not both pass the reuse check.
            evidence = str(values[trigger.evidence_field]).upper()
            claims_repo.lock_subject(conn, hashlib.sha256(evidence.encode()).hexdigest())
        newer = claims_repo.newer_trigger_applied(conn, key, observed_at, trigger_id)
        if newer is not None:
            claims_repo.finish_trigger(conn, trigger_id, "superseded", {"superseded_by": newer})
        else:
            known_since = min(observed_at, claims_repo.first_observed(conn, key) or observed_at)
            result = _apply(
                ctx,
                conn,
                trigger,
                values,
                observed_at,
                known_since,
                trigger_id,
                partner_scope,
                now,
                caller,
            )
            claims_repo.finish_trigger(conn, trigger_id, "processed", result.to_json())
        stored = claims_repo.get_trigger(conn, trigger_id)
        assert stored is not None
        return stored, True


def get_trigger(conn: sa.Connection, caller: Caller, trigger_id: str) -> sa.Row[Any] | None:
    row = claims_repo.get_trigger(conn, trigger_id)
    source = caller.provider_id or caller.partner_id
    if row is None or row.source_id != source or row.livemode != caller.livemode:
        return None
    return row


def _editions(ctx: ClaimsContext, trigger: str) -> list[Edition]:
    return [
        e
        for product in ctx.catalog.all_loaded()
        for e in product.editions
        if any(r.trigger == trigger for r in e.claims)
    ]


def _apply(
    ctx: ClaimsContext,
    conn: sa.Connection,
    trigger: TriggerType,
    values: dict[str, Any],
    observed_at: datetime,
    known_since: datetime,
    trigger_id: str,
    partner_scope: str | None,
    now: datetime,
    caller: Caller,
) -> Result:
    result = Result()
    keys = trigger_subject_keys(_editions(ctx, trigger.name), trigger.name, caller.livemode, values)
    rows = claims_repo.policies_matching(conn, keys, _MATCHABLE, partner_scope)
    policies = [policies_repo.from_row(r) for r in rows]
    result.matched = len(policies)
    if not policies:
        return result
    loss_key = trigger.name
    existing = claims_repo.for_policies(conn, [p.id for p in policies], loss_key, for_update=True)
    evidence_ref = None
    if trigger.evidence_field and values.get(trigger.evidence_field):
        evidence_ref = str(values[trigger.evidence_field]).upper()
    evidence_users = (
        claims_repo.evidence_users(conn, {evidence_ref}, caller.livemode) if evidence_ref else {}
    )
    holder_counts = _holder_counts(ctx, conn, policies, now)
    data = to_json(trigger, values)
    actor = (
        Actor("provider", caller.provider_id)
        if caller.provider_id
        else Actor("partner", caller.partner_id)
    )
    # When the loss happened (a pickup's time), else since when it was known: a policy
    # bought after the first report about its flight was bought knowing the delay.
    loss_at = values.get(trigger.event_time_field or "") or known_since
    new_claims: list[tuple[Claim, Changes]] = []
    corrected: list[tuple[Claim, str, Changes]] = []
    for policy in policies:
        edition = ctx.catalog.edition(policy.product_code, policy.edition)
        if edition is None or edition.content_hash != policy.content_hash:
            log.error("trigger %s: edition of %s is not loaded; skipped", trigger_id, policy.id)
            result.skipped.append(policy.id)
            continue
        risk = edition.inputs.parse(policy.risk)
        facts = policy_facts(policy)
        decision = decide(edition, trigger.name, risk, facts, values, observed_at)
        evaluation = {
            **decision.to_json(edition.currency),
            "trigger_event": trigger_id,
            "trigger_data": data,
            "observed_at": observed_at.isoformat(),
        }
        old = existing.get(policy.id)
        if old is not None and old.status == "rejected" and old.decided_by == "system":
            old = None  # rejected on earlier facts by the rules, not by people: decide anew
        if old is None:
            if not decision.pays and not decision.problem:
                result.not_covered += 1
                continue
            signals: list[Signal] = []
            if decision.problem:
                signals.append(Signal("cannot_decide", decision.problem))
            else:
                signals += signals_for(
                    conn,
                    edition,
                    policy,
                    decision.amount,
                    loss_at,
                    evidence_ref,
                    f"{trigger.evidence_field} {evidence_ref}",
                    now,
                    holder_counts,
                    evidence_users,
                )
                if decision.review and decision.rule and decision.rule.review_when:
                    signals.append(
                        Signal(
                            "product_rule",
                            f"claim rule {decision.rule.code}: {decision.rule.review_when.source}",
                        )
                    )
            claim = _new_claim(
                policy, edition, decision, evaluation, trigger_id, observed_at, evidence_ref, now
            )
            changes = Changes.empty()
            claim = decide_new(ctx, changes, claim, policy, signals, now, actor)
            new_claims.append((claim, changes))
        else:
            outcome = _correct(ctx, old, decision, evaluation, trigger_id, observed_at, now)
            if outcome is None:
                result.unchanged += 1
                continue
            after, changes, kind = outcome
            corrected.append((after, old.status, changes))
            if kind == "rejected":
                result.rejected_by_correction += 1
            else:
                result.corrected += 1
    inserted = claims_repo.insert_claims(conn, [c for c, _ in new_claims])
    for claim, changes in new_claims:
        if claim.id not in inserted:  # a claim for this loss was filed meanwhile
            result.unchanged += 1
            continue
        changes.write(conn)
        result.claims_created += 1
        if claim.status == ClaimStatus.PAID.value:
            result.paid += 1
        elif claim.status == ClaimStatus.APPROVED.value:
            result.approved += 1
        else:
            result.in_review += 1
    for after, status, changes in corrected:
        if claims_repo.update(conn, after, status):
            changes.write(conn)
    return result


def _holder_counts(
    ctx: ClaimsContext, conn: sa.Connection, policies: list[Policy], now: datetime
) -> dict[str, int]:
    """Claims per policyholder within the longest window any matched product looks at."""
    holders = {p.policyholder.id_hash for p in policies if p.policyholder}
    if not holders:
        return {}
    days = max((e.claim_review.repeat_claims_days for e in _editions_of(ctx, policies)), default=30)
    return claims_repo.holder_counts(
        conn, holders, now - timedelta(days=days), policies[0].livemode
    )


def _editions_of(ctx: ClaimsContext, policies: list[Policy]) -> list[Edition]:
    seen = {(p.product_code, p.edition) for p in policies}
    return [e for code, ed in seen if (e := ctx.catalog.edition(code, ed)) is not None]


def _new_claim(
    policy: Policy,
    edition: Edition,
    decision: Any,
    evaluation: dict[str, Any],
    trigger_id: str,
    observed_at: datetime,
    evidence_ref: str | None,
    now: datetime,
) -> Claim:
    rules = [r.code for r in edition.claims if r.trigger == decision.trigger]
    return new_claim(
        policy,
        edition.currency,
        decision.trigger,
        "trigger",
        decision.rule.code if decision.rule else rules[0],
        now,
        amount_claimed=decision.amount,
        description=decision.rule.description if decision.rule else None,
        trigger_event_id=trigger_id,
        observed_at=observed_at,
        evaluation=evaluation,
        evidence_ref=evidence_ref,
    )


def _correct(
    ctx: ClaimsContext,
    old: Claim,
    decision: Any,
    evaluation: dict[str, Any],
    trigger_id: str,
    observed_at: datetime,
    now: datetime,
) -> tuple[Claim, Changes, str] | None:
    """A later report on a loss that already has a claim. An open claim follows the new
    facts; a decided one keeps its decision (nothing is paid twice or clawed back) and
    records the correction for people to see."""
    if old.trigger_event_id == trigger_id:
        return None
    if old.trigger_event_id is not None and old.observed_at and old.observed_at >= observed_at:
        return None  # the claim already follows a later report
    note = {
        "trigger_event": trigger_id,
        "observed_at": observed_at.isoformat(),
        "received_at": now.isoformat(),
        "result": evaluation["result"],
        "amount": evaluation["amount"],
        "rule": evaluation["rule"],
    }
    corrections = [*old.corrections, note]
    changes = Changes.empty()
    common = {
        "corrections": corrections,
        "trigger_event_id": trigger_id,
        "observed_at": observed_at,
        "evaluation": evaluation,
    }
    if old.origin == "filed" and old.status in OPEN_STATUSES:
        # People decide a filed claim; the report is evidence for them, not a decision.
        claimed = old.amount_claimed
        contradicts = not decision.pays or (
            claimed is not None and decision.amount is not None and claimed > decision.amount
        )
        signals = list(old.signals)
        if contradicts:
            outcome = f"pays {decision.amount}" if decision.pays else "pays nothing"
            signals.append(
                Signal(
                    "trigger_contradicts_claim",
                    f"report {trigger_id} {outcome} under the product's rules",
                ).to_json()
            )
        after = transition(
            ctx,
            changes,
            old,
            "correct",
            SYSTEM,
            now,
            f"report {trigger_id}: {evaluation['result']}",
            signals=signals,
            **common,
        )
        return after, changes, "corrected"
    if old.status in OPEN_STATUSES:
        if not decision.pays and not decision.problem:
            after = transition(
                ctx,
                changes,
                old,
                "reject",
                SYSTEM,
                now,
                "a corrected report no longer meets any claim rule",
                reject_code="not_covered",
                decision_reason="a corrected report no longer meets any claim rule",
                decided_at=now,
                decided_by="system",
                first_approval=None,
                **common,
            )
            return after, changes, "rejected"
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
            **common,
        )
        return after, changes, "corrected"
    # Decided already: keep the decision, note the correction.
    after = replace(old, corrections=corrections, updated_at=now)
    paid = old.amount_approved
    new_amount = decision.amount if decision.pays else None
    reason = (
        f"correction received after the claim was {old.status}: the corrected report "
        f"{'pays ' + str(new_amount) + ' ' + old.currency if new_amount else 'pays nothing'}"
        f" (decided: {paid} {old.currency}); the decision stands and nothing is paid twice"
    )
    changes.audit.append(audit_row(after, SYSTEM, "note_correction", now, old, reason))
    return after, changes, "noted"


def index_policies(ctx: ClaimsContext, limit: int = 1000) -> int:
    """Store the trigger keys of policies issued before claims existed (or whose edition
    was not loaded then); returns how many were indexed. Safe to run at any time."""
    with ctx.engine.begin() as conn:
        rows = claims_repo.policies_without_subjects(conn, limit)
        subjects = []
        for row in rows:
            policy = policies_repo.from_row(row)
            edition = ctx.catalog.edition(policy.product_code, policy.edition)
            if edition is None or edition.content_hash != policy.content_hash:
                continue  # its edition is not loaded: try again once it is
            keys = policy_subject_keys(
                edition, edition.inputs.parse(policy.risk), policy.external_ref, policy.livemode
            )
            subjects += [
                {"subject_key": k, "policy_id": policy.id}
                for k in sorted(keys or {claims_repo.NO_SUBJECT})
            ]
        claims_repo.insert_subjects(conn, subjects)
    return len({s["policy_id"] for s in subjects})
