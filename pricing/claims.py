"""Deciding a claim from a trigger: the product's claim rules, evaluated and explained."""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .engine import build_env
from .errors import EvaluationError
from .model import Benefit, ClaimRule, Edition
from .money import MINOR_UNITS, Money
from .triggers import subject_key

_CONTEXT = decimal.Context(prec=34, rounding=decimal.ROUND_HALF_UP)


@dataclass(frozen=True)
class PolicyFacts:
    """What a claim rule may read about the policy besides its risk."""

    external_ref: str
    premium: Decimal
    coverage_start: datetime
    coverage_end: datetime
    issued_at: datetime


@dataclass(frozen=True)
class RuleCheck:
    code: str
    when: str
    holds: bool
    #: every name the rule reads, with the value it had
    values: dict[str, Any]


@dataclass(frozen=True)
class Decision:
    """The outcome of a trigger's claim rules for one policy, with its explanation."""

    trigger: str
    edition: str
    content_hash: str
    checks: list[RuleCheck] = field(default_factory=list)
    rule: ClaimRule | None = None
    amount: Decimal | None = None  # what the rule pays, rounded to the currency
    #: the rule's review_when held: people decide
    review: bool = False
    #: the rules could not be evaluated on these facts (people decide)
    problem: str | None = None
    #: when the reported loss happened, and why the cover did not hold it (if it did not)
    event_time: datetime | None = None
    outside_cover: str | None = None
    #: the amount the rule gave, above the largest benefit, before it was capped
    capped_from: Decimal | None = None

    @property
    def pays(self) -> bool:
        return (
            self.rule is not None
            and self.rule.refund is None
            and self.outside_cover is None
            and self.amount is not None
            and self.amount > 0
        )

    @property
    def refunds(self) -> bool:
        """The rule voids the policy with its premium refunded (nothing is paid)."""
        return self.rule is not None and self.rule.refund is not None and not self.problem

    @property
    def result(self) -> str:
        if self.problem:
            return "cannot_decide"
        if self.refunds:
            return "refund"
        if self.outside_cover:
            return "outside_cover"
        return "pays" if self.pays else "not_covered"

    def to_json(self, currency: str) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "edition": self.edition,
            "content_hash": self.content_hash,
            "rules_checked": [
                {"rule": c.code, "when": c.when, "holds": c.holds, "values": c.values}
                for c in self.checks
            ],
            "rule": self.rule.code if self.rule else None,
            "payout_expression": (
                self.rule.payout.source if self.rule and self.rule.payout else None
            ),
            "refund": self.rule.refund if self.rule else None,
            "amount": (
                {"amount": str(self.amount), "currency": currency}
                if self.amount is not None
                else None
            ),
            "capped_from": (
                {"amount": str(self.capped_from), "currency": currency}
                if self.capped_from is not None
                else None
            ),
            "event_time": self.event_time.isoformat() if self.event_time else None,
            "outside_cover": self.outside_cover,
            "review_when": (
                self.rule.review_when.source if self.rule and self.rule.review_when else None
            ),
            "review": self.review,
            "problem": self.problem,
            "result": self.result,
        }


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Money):
        return value.to_json()
    return value


def claim_env(
    edition: Edition,
    risk: dict[str, Any],
    facts: PolicyFacts,
    trigger: dict[str, Any],
    observed_at: datetime,
    event_time: datetime,
) -> dict[str, Any]:
    env = build_env(edition, risk, observed_at)
    env.update(
        external_ref=facts.external_ref,
        premium=facts.premium,
        coverage_start=facts.coverage_start,
        coverage_end=facts.coverage_end,
        issued_at=facts.issued_at,
        observed_at=observed_at,
        event_time=event_time,
    )
    for name, value in trigger.items():
        env[name] = value.amount if isinstance(value, Money) else value
    return env


def _foreign_money(edition: Edition, trigger: dict[str, Any]) -> str | None:
    for name, value in trigger.items():
        if isinstance(value, Money) and value.currency != edition.currency:
            return f"the trigger's {name} is in {value.currency}; the product pays in {edition.currency}"
    return None


def decide(
    edition: Edition,
    trigger_name: str,
    risk: dict[str, Any],
    facts: PolicyFacts,
    trigger: dict[str, Any],
    observed_at: datetime,
    event_time: datetime,
) -> Decision:
    """Run the edition's rules for `trigger_name` in order; the first whose `when` holds
    decides. `risk` and `trigger` are parsed values; `event_time` is when the reported
    loss happened (the caller has checked it is not after `observed_at`). A rule pays
    only for a loss within the cover, and never more than the largest benefit."""
    rules = [r for r in edition.claims if r.trigger == trigger_name]
    problem = _foreign_money(edition, trigger)
    if problem:
        return Decision(trigger_name, edition.id, edition.content_hash, problem=problem)
    checks: list[RuleCheck] = []

    def made(**values: Any) -> Decision:
        return Decision(trigger_name, edition.id, edition.content_hash, **values)

    with decimal.localcontext(_CONTEXT):
        try:
            env = claim_env(edition, risk, facts, trigger, observed_at, event_time)
            for rule in rules:
                holds = bool(rule.when(env))
                names = set(rule.when.names)
                if holds and rule.payout is not None:
                    names |= rule.payout.names
                checks.append(
                    RuleCheck(
                        rule.code,
                        rule.when.source,
                        holds,
                        {n: plain(env.get(n)) for n in sorted(names)},
                    )
                )
                if not holds:
                    continue
                if rule.refund is not None:
                    return made(checks=checks, rule=rule, event_time=event_time)
                outside = _outside_cover(facts, event_time)
                if outside:
                    return made(
                        checks=checks,
                        rule=rule,
                        event_time=event_time,
                        outside_cover=outside,
                    )
                assert rule.payout is not None
                amount = _amount(rule.payout(env), edition, rule)
                cap = benefit_cap(edition)
                capped_from = None
                if cap is not None and amount > cap:
                    capped_from, amount = amount, cap
                review = bool(rule.review_when(env)) if rule.review_when else False
                if rule.review_when:
                    checks[-1].values.update(
                        {n: plain(env.get(n)) for n in sorted(rule.review_when.names)}
                    )
                return made(
                    checks=checks,
                    rule=rule,
                    amount=amount,
                    review=review,
                    event_time=event_time,
                    capped_from=capped_from,
                )
        except EvaluationError as exc:
            return made(checks=checks, problem=str(exc), event_time=event_time)
    return made(checks=checks, event_time=event_time)


def _outside_cover(facts: PolicyFacts, event_time: datetime) -> str | None:
    """Why a loss at `event_time` is not the policy's: its cover had not started, or had ended."""
    if event_time < facts.coverage_start:
        return (
            f"the loss at {event_time.isoformat()} is before the cover started "
            f"({facts.coverage_start.isoformat()})"
        )
    if event_time >= facts.coverage_end:
        return (
            f"the loss at {event_time.isoformat()} is after the cover ended "
            f"({facts.coverage_end.isoformat()})"
        )
    return None


def _amount(value: Any, edition: Edition, rule: ClaimRule) -> Decimal:
    source = rule.payout.source if rule.payout else ""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise EvaluationError(f"claim rule {rule.code}: payout {source!r} is not a number")
    if value < 0:
        raise EvaluationError(f"claim rule {rule.code}: payout {value} is negative")
    quantum = Decimal(1).scaleb(-MINOR_UNITS[edition.currency])
    return Decimal(value).quantize(quantum)


def benefit_cap(edition: Edition) -> Decimal | None:
    """The most any one claim on the edition can pay (None: no benefit is declared)."""
    caps = [b.amount if b.amount is not None else b.limit for b in edition.benefits]
    known = [c for c in caps if c is not None]
    return max(known) if known else None


def benefit(edition: Edition, code: str) -> Benefit | None:
    return next((b for b in edition.benefits if b.code == code), None)


def policy_subject_keys(
    edition: Edition, risk: dict[str, Any], external_ref: str, livemode: bool
) -> set[str]:
    """The keys a policy is stored under, so that triggers about it find it."""
    values = {**risk, "external_ref": external_ref}
    keys = set()
    for rule in edition.claims:
        for way in rule.match:
            if all(values.get(n) is not None for n in way):
                keys.add(subject_key(rule.trigger, livemode, way, values))
    return keys


def trigger_subject_keys(
    editions: Iterable[Edition], trigger_name: str, livemode: bool, trigger: dict[str, Any]
) -> set[str]:
    """The keys under which policies matched by this trigger are stored."""
    keys = set()
    for edition in editions:
        for rule in edition.claims:
            if rule.trigger != trigger_name:
                continue
            for way in rule.match:
                if all(trigger.get(n) is not None for n in way):
                    keys.add(subject_key(trigger_name, livemode, way, trigger))
                    break  # the first complete way is the rule's match
    return keys
