"""Money the currency cannot hold, and payouts above the benefit they pay, are refused when
the product loads, naming the file, the line, the column of an expression and the path.

Each test copies the first product whose newest edition has what it breaks, and edits the
text of that edition.yaml as an actuary would.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from pricing.model import Benefit, ClaimRule, Edition
from tests.product_edits import (
    column_of,
    copy,
    first_product,
    loaded,
    newest,
    refused,
    replace_in_section,
)

ODD = Decimal("0.001")  # below a fen or a cent: no edition's currency holds it


def paying_rules(e: Edition) -> list[ClaimRule]:
    """The rules that pay (not refund), in file order: their payout lines, in order."""
    return [r for r in e.claims if r.payout is not None]


def constant_payout(e: Edition) -> tuple[int, int, ClaimRule] | None:
    """The first rule paying a constant: its index among the rules, among the payout
    lines, and the rule."""
    for k, rule in enumerate(paying_rules(e)):
        if rule.payout is not None and not rule.payout.names:
            return e.claims.index(rule), k, rule
    return None


def benefit_of(e: Edition, rule: ClaimRule) -> tuple[str, Decimal]:
    """What the rule may pay at most: the benefit of its code, else the largest one."""

    def pays(b: Benefit) -> Decimal:
        value = b.amount if b.amount is not None else b.limit
        assert value is not None
        return value

    own = next((b for b in e.benefits if b.code == rule.code), None)
    if own is not None:
        return f"benefit {own.code}", pays(own)
    return "the largest benefit", max(pays(b) for b in e.benefits)


def test_a_constant_payout_with_more_decimals_than_the_currency(tmp_path: Path) -> None:
    code = first_product("a rule paying a constant", lambda e: constant_payout(e) is not None)
    found = constant_payout(newest(code))
    assert found is not None
    i, k, rule = found
    assert rule.payout is not None
    odd = Decimal(rule.payout.source) - ODD
    root, edition = copy(tmp_path, code)
    line = replace_in_section(edition, "claims", "payout", f'"{odd}"', nth=k)
    (error,) = refused(root, code)
    column = column_of(edition, line, str(odd))
    assert f"edition.yaml:{line}:{column} (claims[{i}].payout):" in error
    assert f"money amount {odd} has more decimals than {newest(code).currency} has" in error


def _first(values: list[Decimal | None]) -> tuple[int, Decimal] | None:
    return next(((i, v) for i, v in enumerate(values) if v is not None), None)


#: section, key (its first line in the section is edited), the amount and its index where
#: the newest edition has one, the path the error names
MONEY_FIELDS: list[tuple[str, str, Callable[[Edition], tuple[int, Decimal] | None], str]] = [
    (
        "coverage",
        "amount",
        lambda e: _first([b.amount for b in e.benefits]),
        "coverage.benefits[{}].amount",
    ),
    (
        "coverage",
        "limit",
        lambda e: _first([b.limit for b in e.benefits]),
        "coverage.benefits[{}].limit",
    ),
    ("rating", "base", lambda e: (0, e.rating.base), "rating.base"),
    ("rating", "minimum", lambda e: _first([e.rating.minimum]), "rating.minimum"),
    ("rating", "maximum", lambda e: _first([e.rating.maximum]), "rating.maximum"),
    (
        "rating",
        "amount",  # a fee's, when no loading adds an amount before it
        lambda e: (
            None
            if any(x.amount is not None for x in e.rating.loadings)
            else _first([f.amount for f in e.rating.fees])
        ),
        "rating.fees[{}].amount",
    ),
    (
        "claim_review",
        "auto_approve_up_to",
        lambda e: _first([e.claim_review.auto_approve_up_to]),
        "claim_review.auto_approve_up_to",
    ),
]


@pytest.mark.parametrize(
    ("section", "key", "amount", "path"), MONEY_FIELDS, ids=[f[3] for f in MONEY_FIELDS]
)
def test_money_fields_with_more_decimals_than_the_currency(
    tmp_path: Path,
    section: str,
    key: str,
    amount: Callable[[Edition], tuple[int, Decimal] | None],
    path: str,
) -> None:
    code = first_product(path, lambda e: amount(e) is not None)
    found = amount(newest(code))
    assert found is not None
    index, value = found
    odd = value + ODD
    root, edition = copy(tmp_path, code)
    line = replace_in_section(edition, section, key, f'"{odd}"')
    errors = refused(root, code)
    where = f"edition.yaml:{line} ({path.format(index)}): money amount {odd} has more decimals"
    assert any(where in e for e in errors), errors


def test_a_money_literal_compared_with_money(tmp_path: Path) -> None:
    code = first_product("claim rules", lambda e: bool(e.claims))
    root, edition = copy(tmp_path, code)
    line = replace_in_section(edition, "claims", "when", "({}) and premium > 1.005")
    (error,) = refused(root, code)
    column = column_of(edition, line, "1.005")
    assert f"edition.yaml:{line}:{column} (claims[0].when): money amount 1.005" in error
    # a ratio that scales money is not money: it may have any decimals
    replace_in_section(edition, "claims", "when", "premium * 1.005 > 0")
    loaded(root, code)


def test_a_payout_above_its_benefit(tmp_path: Path) -> None:
    code = first_product(
        "a rule paying a constant, and benefits",
        lambda e: constant_payout(e) is not None and bool(e.benefits),
    )
    ed = newest(code)
    found = constant_payout(ed)
    assert found is not None
    i, k, rule = found
    what, cap = benefit_of(ed, rule)
    root, edition = copy(tmp_path, code)
    line = replace_in_section(edition, "claims", "payout", f'"{cap + 1}"', nth=k)
    (error,) = refused(root, code)
    column = column_of(edition, line, str(cap + 1))
    assert f"edition.yaml:{line}:{column} (claims[{i}].payout):" in error
    assert f"pays {cap + 1}, more than {what} ({cap})" in error


def test_a_bounded_payout_above_its_benefit(tmp_path: Path) -> None:
    code = first_product(
        "a paying rule, and benefits", lambda e: bool(paying_rules(e)) and bool(e.benefits)
    )
    ed = newest(code)
    rule = paying_rules(ed)[0]
    i = ed.claims.index(rule)
    what, cap = benefit_of(ed, rule)
    root, edition = copy(tmp_path, code)
    line = replace_in_section(edition, "claims", "payout", f"min(premium, {cap + 1})")
    (error,) = refused(root, code)
    assert f"edition.yaml:{line}:{column_of(edition, line, 'min(')} (claims[{i}].payout):" in error
    assert f"'min(premium, {cap + 1})' can pay up to {cap + 1}, more than {what} ({cap})" in error
    # within the benefit, or with no bound the shape shows (capped when it is paid): loads
    for payout in (f"min(premium, {cap})", "premium * 2"):
        replace_in_section(edition, "claims", "payout", payout)
        loaded(root, code)


def test_a_money_literal_in_a_payout(tmp_path: Path) -> None:
    code = first_product("a paying rule", lambda e: bool(paying_rules(e)))
    ed = newest(code)
    i = ed.claims.index(paying_rules(ed)[0])
    root, edition = copy(tmp_path, code)
    line = replace_in_section(edition, "claims", "payout", "min(premium, 1.005)")
    (error,) = refused(root, code)
    column = column_of(edition, line, "1.005")
    assert f"edition.yaml:{line}:{column} (claims[{i}].payout): money amount 1.005" in error
