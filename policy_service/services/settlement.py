"""One report settling the policies it concerns, in one set-based pass: read the matched
policies (locked), their claims and payouts and the counts the fraud rules need, decide
every claim in pure code (pricing.claims.decide), then write the results."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from policy_service.adapters import policies_repo
from policy_service.domain.claims import (
    Claim,
    ClaimStatus,
)
from policy_service.domain.records import Policy
from pricing.claim_signals import Signal
from pricing.claims import Decision, benefit_cap, decide, trigger_subject_keys
from pricing.model import Edition

from .cancellation import void_by_trigger
from .claim_payment import decide_new
from .claims import (
    Changes,
    ClaimsContext,
    new_claim,
    policy_facts,
    signals_for,
)
from .corrections import correct
from .reports import Report
from .unit_of_work import Tx

log = logging.getLogger(__name__)


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


def _editions(ctx: ClaimsContext, trigger: str) -> list[Edition]:
    return [
        e
        for product in ctx.catalog.all_loaded()
        for e in product.editions
        if any(r.trigger == trigger for r in e.claims)
    ]


class Settlement:
    """One report settling its matched policies: what it read once for all of them, and
    what it writes, gathered policy by policy and written at the end."""

    def __init__(
        self, ctx: ClaimsContext, tx: Tx, report: Report, now: datetime, held: bool = True
    ) -> None:
        self.ctx, self.tx, self.report, self.now, self.held = ctx, tx, report, now, held
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
        rows = tx.triggers.policies_matching(keys, _MATCHABLE, report.partner_scope)
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
            edition = ctx.catalog.pinned(policy.product_code, policy.edition, policy.content_hash)
            if edition is None:
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
        """Every claim and what goes with it; with `held`, in as few statements as the
        rows allow (adapters/held_inserts.py), on the bet that no claim for the same loss
        was filed meanwhile: if one was, HeldWriteRefused, and the caller settles again
        without holding."""
        with self.tx.held_inserts(self.held) as flush:
            self._write()
            if not flush():
                raise HeldWriteRefused

    def _write(self) -> None:
        tx, result = self.tx, self.result
        written = Changes.empty()
        inserted = tx.claims.insert_claims([c for c, _ in self.new_claims])
        for claim, changes in self.new_claims:
            if claim.id not in inserted:  # a claim for this loss was filed meanwhile
                result.unchanged += 1
                continue
            written.gather(changes)
            result.claims_created += 1
            if claim.status == ClaimStatus.PAID.value:
                result.paid += 1
            elif claim.status == ClaimStatus.APPROVED.value:
                result.approved += 1
            else:
                result.in_review += 1
        for after, status, changes in self.updated:
            if tx.claims.update(after, status):  # unless people decided it meanwhile
                written.gather(changes)
        # the audit, payouts, ledger and events of every claim: a statement each
        written.write(tx)


class HeldWriteRefused(Exception):
    """The held write found a claim filed meanwhile: roll back and settle without holding."""


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
