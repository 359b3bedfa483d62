"""Trigger events: a fact about the world settles every policy it concerns, in one pass.

The event is recorded and applied in one transaction, under a lock on its subject (the
flight, the order), so two reports about one flight are applied one after the other; the
matched policies are locked too, so a cancellation waits for the settlement or the other
way round. Of two reports on one subject the later observed one counts: an older report
arriving late is kept but changes nothing. The same report posted twice is one event.

A loss is paid only once it can have happened: each trigger type says when the loss it
reports happened (its event time: a delay of 245 minutes, 245 minutes after the scheduled
departure). A report observed before its event time is kept as `premature` and changes
nothing; a rule pays only for a loss within the policy's cover. A later report reaching a
higher tier tops a paying claim up; a lower one claws nothing back.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from policy_service.adapters import claims_repo, policies_repo
from policy_service.domain.claims import (
    Claim,
    ClaimStatus,
    Signal,
)
from policy_service.domain.errors import InvalidRequest, PermissionDenied
from policy_service.domain.ids import new_id
from policy_service.domain.records import Caller, Policy
from pricing.claims import Decision, benefit_cap, decide, policy_subject_keys, trigger_subject_keys
from pricing.errors import InputErrors
from pricing.inputs import parse_datetime
from pricing.model import Edition
from pricing.triggers import TRIGGER_TYPES, TriggerType, subject_key, to_json

from .cancellation import void_by_trigger
from .claim_payment import decide_new
from .claims import (
    Actor,
    Changes,
    ClaimsContext,
    new_claim,
    policy_facts,
    signals_for,
)
from .corrections import correct
from .reports import Report
from .unit_of_work import Tx, UnitOfWork

log = logging.getLogger(__name__)

_FIELDS = {"type", "data", "observed_at"}
#: a live report may be stamped a little ahead of our clock, not more
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
    #: the loss happened before the policy's cover started, or after it ended
    outside_cover: int = 0
    #: policies voided with their premium refunded (a rule with `refund: full`)
    refunded: int = 0
    corrected: int = 0
    #: paying claims raised to a higher tier, the difference paid as a further payout
    topped_up: int = 0
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


def _observed_at(caller: Caller, body: dict[str, Any], now: datetime) -> datetime:
    """When the fact was observed. A test key may post one observed in the future: a
    simulated clock, judged as if it were then (test policies only)."""
    if body.get("observed_at") is None:
        return now
    try:
        observed_at = parse_datetime(body["observed_at"])
    except ValueError as exc:
        raise InvalidRequest(str(exc), param="observed_at") from None
    if caller.livemode and observed_at > now + _CLOCK_SKEW:
        raise InvalidRequest("is in the future", param="observed_at")
    return observed_at


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
    observed_at = _observed_at(caller, body, now)
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
    # The same fact reported again (the same data, a later observed_at) is one fact.
    fact_key = hashlib.sha256(f"{key}\x1f{json.dumps(data, sort_keys=True)}".encode()).hexdigest()
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
        "fact_key": fact_key,
        "status": "processed",
        "result": {},
    }
    with ctx.uow.write() as tx:
        if not tx.claims.insert_trigger(row):
            existing = tx.claims.trigger_by_fingerprint(source_id, caller.livemode, fingerprint)
            assert existing is not None
            return existing, False
        tx.claims.lock_subject(key)
        if trigger.evidence_field and values.get(trigger.evidence_field):
            # Two orders claiming with one parcel must not both pass the reuse check.
            evidence = str(values[trigger.evidence_field]).upper()
            tx.claims.lock_subject(hashlib.sha256(evidence.encode()).hexdigest())
        newer = tx.claims.newer_trigger_applied(key, observed_at, trigger_id)
        first_seen = min(observed_at, tx.claims.first_observed_fact(fact_key) or observed_at)
        event_time = trigger.event_time_of(values, first_seen)
        if newer is not None:
            tx.claims.finish_trigger(trigger_id, "superseded", {"superseded_by": newer}, event_time)
        elif event_time > observed_at:
            tx.claims.finish_trigger(
                trigger_id,
                "premature",
                _premature(trigger, event_time, observed_at),
                event_time,
            )
        else:
            known_since = min(observed_at, tx.claims.first_observed(key) or observed_at)
            report = Report(
                trigger_id,
                trigger,
                values,
                data,
                observed_at,
                event_time,
                known_since,
                partner_scope,
                caller.livemode,
                Actor("provider", caller.provider_id)
                if caller.provider_id
                else Actor("partner", caller.partner_id),
            )
            result = _Settlement(ctx, tx, report, now).run()
            tx.claims.finish_trigger(trigger_id, "processed", result.to_json(), event_time)
        stored = tx.claims.get_trigger(trigger_id)
        assert stored is not None
        return stored, True


def _premature(trigger: TriggerType, event_time: datetime, observed_at: datetime) -> dict[str, Any]:
    return {
        "premature": True,
        "event_time": event_time.isoformat(),
        "reason": (
            f"the {trigger.name} report was observed at {observed_at.isoformat()}, before the "
            f"loss it reports can have happened ({event_time.isoformat()}: "
            f"{trigger.event_time.source}); it is kept and changes nothing, a later report "
            "applies as usual"
        ),
    }


def get_trigger(uow: UnitOfWork, caller: Caller, trigger_id: str) -> sa.Row[Any] | None:
    """A trigger event the caller posted, or None."""
    with uow.read() as tx:
        row = tx.claims.get_trigger(trigger_id)
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


class _Settlement:
    """One report settling its matched policies: what it read once for all of them, and
    what it writes, gathered policy by policy and written at the end."""

    def __init__(self, ctx: ClaimsContext, tx: Tx, report: Report, now: datetime) -> None:
        self.ctx, self.tx, self.report, self.now = ctx, tx, report, now
        self.result = Result()
        self.new_claims: list[tuple[Claim, Changes]] = []
        self.updated: list[tuple[Claim, str, Changes]] = []
        self.holder_counts: dict[str, int] = {}
        self.evidence_users: dict[str, set[str]] = {}

    def run(self) -> Result:
        ctx, tx, report, result = self.ctx, self.tx, self.report, self.result
        trigger = report.trigger
        keys = trigger_subject_keys(
            _editions(ctx, trigger.name), trigger.name, report.livemode, report.values
        )
        rows = tx.claims.policies_matching(keys, _MATCHABLE, report.partner_scope)
        policies = [policies_repo.from_row(r) for r in rows]
        result.matched = len(policies)
        if not policies:
            return result
        ids = [p.id for p in policies]
        existing = tx.claims.for_policies(ids, trigger.name, for_update=True)
        payouts = tx.claims.payouts_for([c.id for c in existing.values()])
        if report.evidence_ref:
            self.evidence_users = tx.claims.evidence_users({report.evidence_ref}, report.livemode)
        self.holder_counts = _holder_counts(ctx, tx, policies, self.now)
        for policy in policies:
            edition = ctx.catalog.edition(policy.product_code, policy.edition)
            if edition is None or edition.content_hash != policy.content_hash:
                log.error("trigger %s: edition of %s is not loaded; skipped", report.id, policy.id)
                result.skipped.append(policy.id)
                continue
            old = existing.get(policy.id)
            if old is not None and old.status == "rejected" and old.decided_by == "system":
                old = None  # rejected on earlier facts by the rules, not by people: decide anew
            self.settle(policy, edition, old, len(payouts.get(old.id, [])) if old else 0)
        self.write()
        return result

    def settle(
        self, policy: Policy, edition: Edition, old: Claim | None, payout_count: int
    ) -> None:
        report = self.report
        decision = decide(
            edition,
            report.trigger.name,
            edition.inputs.parse(policy.risk),
            policy_facts(policy),
            report.values,
            report.observed_at,
            report.event_time,
        )
        evaluation = {
            **decision.to_json(edition.currency),
            "trigger_event": report.id,
            "trigger_data": report.data,
            "observed_at": report.observed_at.isoformat(),
        }
        if decision.refunds:
            self.refund(policy, decision)
        elif old is None:
            self.new(policy, edition, decision, evaluation)
        else:
            outcome = correct(
                self.ctx, report, old, policy, edition, decision, evaluation, payout_count, self.now
            )
            if outcome is None:
                self.result.unchanged += 1
                return
            after, changes, kind = outcome
            self.updated.append((after, old.status, changes))
            setattr(self.result, kind, getattr(self.result, kind) + 1)

    def refund(self, policy: Policy, decision: Decision) -> None:
        assert decision.rule is not None
        why = f"claim rule {decision.rule.code} (report {self.report.id}): {decision.rule.description}"
        voided, _pending = void_by_trigger(self.ctx, self.tx, policy, self.now, why)
        if voided is None:
            self.result.unchanged += 1  # a claim pays already, or the policy is not in force
        else:
            self.result.refunded += 1  # a stripe refund is sent by the worker

    def new(
        self, policy: Policy, edition: Edition, decision: Decision, evaluation: dict[str, Any]
    ) -> None:
        report, result = self.report, self.result
        if decision.outside_cover:
            result.outside_cover += 1
            return
        if not decision.pays and not decision.problem:
            result.not_covered += 1
            return
        signals: list[Signal] = []
        if decision.problem:
            signals.append(Signal("cannot_decide", decision.problem))
        else:
            signals += signals_for(
                self.tx,
                edition,
                policy,
                decision.amount,
                min(report.event_time, report.known_since),
                report.evidence_ref,
                f"{report.trigger.evidence_field} {report.evidence_ref}",
                self.now,
                self.holder_counts,
                self.evidence_users,
            )
            if decision.review and decision.rule and decision.rule.review_when:
                signals.append(
                    Signal(
                        "product_rule",
                        f"claim rule {decision.rule.code}: {decision.rule.review_when.source}",
                    )
                )
        rules = [r.code for r in edition.claims if r.trigger == decision.trigger]
        claim = new_claim(
            policy,
            edition.currency,
            decision.trigger,
            "trigger",
            decision.rule.code if decision.rule else rules[0],
            self.now,
            amount_claimed=decision.amount,
            description=decision.rule.description if decision.rule else None,
            trigger_event_id=report.id,
            observed_at=report.observed_at,
            event_time=report.event_time,
            benefit_cap=benefit_cap(edition),
            evaluation=evaluation,
            evidence_ref=report.evidence_ref,
        )
        changes = Changes.empty()
        claim = decide_new(self.ctx, changes, claim, policy, signals, self.now, report.actor)
        self.new_claims.append((claim, changes))

    def write(self) -> None:
        tx, result = self.tx, self.result
        inserted = tx.claims.insert_claims([c for c, _ in self.new_claims])
        for claim, changes in self.new_claims:
            if claim.id not in inserted:  # a claim for this loss was filed meanwhile
                result.unchanged += 1
                continue
            changes.write(tx)
            result.claims_created += 1
            if claim.status == ClaimStatus.PAID.value:
                result.paid += 1
            elif claim.status == ClaimStatus.APPROVED.value:
                result.approved += 1
            else:
                result.in_review += 1
        for after, status, changes in self.updated:
            if tx.claims.update(after, status):
                changes.write(tx)


def _holder_counts(
    ctx: ClaimsContext, tx: Tx, policies: list[Policy], now: datetime
) -> dict[str, int]:
    """Claims per policyholder within the longest window any matched product looks at."""
    holders = {p.policyholder.id_hash for p in policies if p.policyholder}
    if not holders:
        return {}
    days = max((e.claim_review.repeat_claims_days for e in _editions_of(ctx, policies)), default=30)
    return tx.claims.holder_counts(holders, now - timedelta(days=days), policies[0].livemode)


def _editions_of(ctx: ClaimsContext, policies: list[Policy]) -> list[Edition]:
    seen = {(p.product_code, p.edition) for p in policies}
    return [e for code, ed in seen if (e := ctx.catalog.edition(code, ed)) is not None]


def index_policies(ctx: ClaimsContext, limit: int = 1000) -> int:
    """Store the trigger keys of policies issued before claims existed (or whose edition
    was not loaded then); returns how many were indexed. Safe to run at any time."""
    with ctx.uow.write() as tx:
        rows = tx.claims.policies_without_subjects(limit)
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
        tx.claims.insert_subjects(subjects)
    return len({s["policy_id"] for s in subjects})
