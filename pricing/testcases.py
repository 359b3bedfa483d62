"""Run a product's own test cases (tests.yaml): expected premiums and refusals."""

from __future__ import annotations

from dataclasses import dataclass

from . import engine
from .errors import BreakdownError, EvaluationError, InputErrors
from .model import Product, TestCase


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
    problems: list[str] = []
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


def run_product(product: Product) -> list[CaseResult]:
    return [run_case(product, case) for case in product.tests]
