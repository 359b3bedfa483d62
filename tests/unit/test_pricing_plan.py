"""An edition's pricing plan (generated code, memoised premiums, a worksheet built when
read) prices every risk exactly as the engine did when each step was interpreted
(reference_engine.py): same refusals, premium, cover, worksheet, and the same error when
an expression fails. Hypothesis draws the risks for every edition of every product."""

from __future__ import annotations

import decimal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricing import engine
from pricing.errors import BreakdownError, EvaluationError, InputErrors
from pricing.loader import load_catalog, load_product
from pricing.model import Edition
from pricing.plan import plan_of
from pricing.premium import MEMO_SIZE
from tests.edition_files import PRODUCTS
from tests.risk_strategies import instants, risk

from . import reference_engine

EDITIONS = [e for p in load_catalog(PRODUCTS).products.values() for e in p.editions]


def _outcome(price: Any, edition: Edition, raw: dict[str, Any], now: datetime) -> Any:
    try:
        parsed = edition.inputs.parse(raw)
    except InputErrors as exc:
        return ("invalid", str(exc.errors[0]))
    try:
        priced = price(edition, parsed, now)
    except (EvaluationError, BreakdownError) as exc:
        return (type(exc).__name__, str(exc))
    return (
        priced.refusals,
        priced.breakdown,
        priced.coverage_start,
        priced.coverage_end,
        priced.worksheet,
    )


@pytest.mark.parametrize("edition", EDITIONS, ids=lambda e: e.ref)
def test_the_plan_prices_every_risk_as_the_interpreted_engine(
    edition: Edition, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The generated code hands a risk to the step-by-step path only to raise the error
    # that names an expression: never for a risk that then prices.
    stepwise = plan_of(edition).price_stepwise
    priced_stepwise: list[dict[str, Any]] = []

    def watched(risk: dict[str, Any], now: datetime) -> Any:
        priced = stepwise(risk, now)
        priced_stepwise.append(risk)
        return priced

    monkeypatch.setattr(plan_of(edition), "price_stepwise", watched)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(raw=risk(edition), now=instants)
    def check(raw: dict[str, Any], now: datetime) -> None:
        now = now.astimezone(UTC)
        want = _outcome(reference_engine.price, edition, raw, now)
        assert _outcome(engine.price, edition, raw, now) == want
        # a second time: from the memo, and the first worksheet was not changed by reading
        assert _outcome(engine.price, edition, raw, now) == want
        assert priced_stepwise == []

    check()


def test_the_plan_ignores_the_callers_decimal_context() -> None:
    edition = EDITIONS[-1]
    now = datetime(2026, 12, 1, tzinfo=UTC)
    parsed = edition.inputs.parse(edition.example(now))
    want = engine.price(edition, parsed, now).worksheet
    plan_of(edition).memo.clear()  # priced again, not read from the memo
    with decimal.localcontext(decimal.Context(prec=3, rounding=decimal.ROUND_DOWN)):
        assert engine.price(edition, parsed, now).worksheet == want


def test_the_memo_is_bounded() -> None:
    edition = EDITIONS[-1]
    plan = plan_of(edition)
    rating = edition.rating
    factors = tuple(decimal.Decimal(1) for _ in rating.factors)
    flags = tuple(False for _ in rating.loadings)
    for i in range(MEMO_SIZE + 10):
        plan.trace((decimal.Decimal(i), *factors[1:]), flags)
    assert len(plan.memo) <= MEMO_SIZE


_FRAGILE = """\
effective_from: 2026-01-01T00:00:00+08:00
currency: CNY
timezone: Asia/Shanghai
quote_valid_minutes: 30
inputs:
  value: {type: money, minimum: "0.01", maximum: "1000.00"}
  deliver_on: {type: date}
derived:
  # divides by zero for a value of 100.00: a defect the type checker cannot see
  spread: {expr: 1 / (value - 100), type: decimal}
eligibility:
  - code: too_cheap
    refuse_when: spread > 1
    message: Too cheap.
  # the cover's end, computed here only for dear values: not shared with the cover
  - code: dear_and_late
    refuse_when: value > 900 and end_of_day(deliver_on + days(7)) < now
    message: Too late for so much.
coverage:
  starts: min(now, end_of_day(deliver_on + days(7)) - days(60))
  ends: end_of_day(deliver_on + days(7))
  benefits:
    - {code: cost, description: Cost, limit: "10.00"}
rating:
  base: "1.00"
  factors: []
  loadings:
    - {name: dear, rate: "0.10", when: value > 500}
  rounding: {step: "0.01", mode: half_up}
  tax: {name: VAT, rate: "0.06", basis: inclusive}
  commission: {rate: "0.10"}
cancellation:
  - refund: none
    description: Never
example_risk:
  value: {amount: "20.00", currency: CNY}
  deliver_on: "2030-01-01"
"""


def test_an_expression_that_fails_names_itself_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "fragile"
    (folder / "editions" / "2026-01").mkdir(parents=True)
    (folder / "product.yaml").write_text(
        "code: fragile\nname: Fragile\nname_zh: 易碎\ndescription: A test.\npolicyholder: none\n"
    )
    (folder / "editions" / "2026-01" / "edition.yaml").write_text(_FRAGILE)
    (folder / "tests.yaml").write_text(
        "- name: cheap\n  quoted_at: 2026-12-01T00:00:00Z\n"
        "  risk: {value: {amount: '20.00', currency: CNY}, deliver_on: '2030-01-01'}\n"
        "  expect: {total: '1.00'}\n"
    )
    edition = load_product(folder, tmp_path).editions[0]
    now = datetime(2026, 12, 1, tzinfo=UTC)
    stepwise = plan_of(edition).price_stepwise
    monkeypatch.setattr(plan_of(edition), "price_stepwise", lambda *a: (stepwise(*a), 1 / 0))

    @settings(max_examples=60, deadline=None)
    @given(
        amount=st.sampled_from(["100.00", "99.50", "600.00", "20.00", "950.00"]),
        deliver_on=st.sampled_from(["2026-11-01", "2026-11-30", "2030-01-01"]),
    )
    def check(amount: str, deliver_on: str) -> None:
        raw = {"value": {"amount": amount, "currency": "CNY"}, "deliver_on": deliver_on}
        want = _outcome(reference_engine.price, edition, raw, now)
        # only a failing expression takes the step-by-step path (which raises first)
        assert _outcome(engine.price, edition, raw, now) == want

    check()
    broken = {"value": {"amount": "100.00", "currency": "CNY"}, "deliver_on": "2030-01-01"}
    got = _outcome(engine.price, edition, broken, now)
    assert got[0] == "EvaluationError" and "1 / (value - 100)" in got[1]
