"""Run a product's own test cases (tests.yaml): expected premiums and refusals, what a
reported fact does to a policy on the risk, and the refund of a cancellation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import engine
from .claim_signals import SignalFacts, general_signals
from .claims import PolicyFacts, decide, policy_subject_keys, trigger_subject_keys
from .errors import BreakdownError, EvaluationError, InputErrors
from .model import Edition, Product, TestCase
from .priced import Priced


@dataclass(frozen=True)
class CaseResult:
    product: str
    case: TestCase
    edition: str | None
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def where(self) -> str:
        return f"{self.product}/tests.yaml:{self.case.line}"


def run_case(product: Product, case: TestCase) -> CaseResult:
    edition = product.edition(case.edition) if case.edition else product.edition_at(case.quoted_at)
    if edition is None:
        return CaseResult(
            product.code, case, None, (f"no edition in force at {case.quoted_at.isoformat()}",)
        )
    try:
        risk = edition.inputs.parse(case.risk)
        priced = engine.price(edition, risk, case.quoted_at)
    except InputErrors as exc:
        return CaseResult(
            product.code, case, edition.id, tuple(f"invalid risk: {e}" for e in exc.errors)
        )
    except (EvaluationError, BreakdownError) as exc:
        return CaseResult(product.code, case, edition.id, (f"pricing failed: {exc}",))
    if case.kind != "premium":
        if priced.breakdown is None:
            refused = [r.code for r in priced.refusals]
            return CaseResult(product.code, case, edition.id, (f"the risk is refused: {refused}",))
        try:
            check = _claim if case.kind == "claim" else _refund
            problems = check(edition, case, risk, priced)
        except EvaluationError as exc:
            problems = [f"the rules failed: {exc}"]
        return CaseResult(product.code, case, edition.id, tuple(problems))
    problems = []
    expect = case.expect
    if "refused" in expect:
        got = sorted(r.code for r in priced.refusals)
        if got != sorted(expect["refused"]):
            problems.append(
                f"expected refusal {sorted(expect['refused'])}, got {got or 'a premium'}"
            )
    elif priced.breakdown is None:
        problems.append(f"expected a premium, got refusal {[r.code for r in priced.refusals]}")
    else:
        b = priced.breakdown
        actual = {**b.parts(), "total": b.total}
        for key, want in expect.items():
            if actual[key] != want:
                problems.append(f"{key}: expected {want}, got {actual[key]}")
    return CaseResult(product.code, case, edition.id, tuple(problems))


def _policy(case: TestCase, priced: Priced) -> PolicyFacts:
    """The policy as issued when the case was quoted."""
    assert priced.breakdown is not None
    assert priced.coverage_start is not None and priced.coverage_end is not None
    return PolicyFacts(
        case.external_ref,
        priced.breakdown.total,
        priced.coverage_start,
        priced.coverage_end,
        case.quoted_at,
    )


def _claim(edition: Edition, case: TestCase, risk: dict[str, Any], priced: Priced) -> list[str]:
    """As the service settles a report on one policy: matched by the rule's subject, the
    loss no later than the report, the rules run, the general signals raised."""
    fact = case.trigger
    assert fact is not None
    kind, values, observed_at = fact.type, fact.values, fact.observed_at
    expect = case.expect
    policy = _policy(case, priced)
    ours = policy_subject_keys(edition, risk, case.external_ref, livemode=False)
    event_time = kind.event_time_of(values, observed_at)
    result, amount, rule, review = "not_matched", None, None, []
    if not ours & trigger_subject_keys([edition], kind.name, False, values):
        pass
    elif event_time > observed_at:
        result = "premature"
    else:
        decision = decide(edition, kind.name, risk, policy, values, observed_at, event_time)
        result, amount = decision.result, decision.amount if decision.pays else None
        rule = decision.rule.code if decision.rule else None
        if decision.pays:
            review_ = edition.claim_review
            signals = general_signals(
                SignalFacts(
                    issued_at=policy.issued_at,
                    loss_at=min(event_time, observed_at),
                    amount=amount,
                    currency=edition.currency,
                    auto_approve_up_to=review_.auto_approve_up_to,
                    soon_after_issue_hours=review_.soon_after_issue_hours,
                    holder_claims_in_window=0,
                    repeat_claims_max=review_.repeat_claims_max,
                    repeat_claims_days=review_.repeat_claims_days,
                )
            )
            review = sorted([s.code for s in signals] + (["product_rule"] * decision.review))
        elif decision.problem:
            return [f"expected {expect['claim']}, got cannot_decide: {decision.problem}"]
    problems = []
    if result != expect["claim"]:
        problems.append(
            f"expected {expect['claim']}, got {result}" + (f" ({rule})" if rule else "")
        )
    elif result == "pays":
        if amount != expect["amount"]:
            problems.append(f"amount: expected {expect['amount']}, got {amount}")
        if review != expect.get("review", []):
            problems.append(f"review: expected {expect.get('review', [])}, got {review}")
    if "rule" in expect and rule != expect["rule"]:
        problems.append(f"rule: expected {expect['rule']}, got {rule}")
    return problems


def _refund(edition: Edition, case: TestCase, risk: dict[str, Any], priced: Priced) -> list[str]:
    assert case.cancel_at is not None
    policy = _policy(case, priced)
    refund, _ = engine.refund_for(
        edition,
        policy.premium,
        risk,
        policy.coverage_start,
        policy.coverage_end,
        policy.issued_at,
        case.cancel_at,
    )
    want = case.expect["refund"]
    return [] if refund == want else [f"refund: expected {want}, got {refund}"]


def run_product(product: Product) -> list[CaseResult]:
    return [run_case(product, case) for case in product.tests]
