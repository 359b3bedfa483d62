"""What loads but is probably not meant is a warning, not a refusal: a claim rule that can
never decide, a benefit that no rule pays, an edition with benefits and no claim rules.
`products validate` prints warnings and still says ok.

Each test copies the first product whose newest edition has what it needs, and edits the
text of that edition.yaml."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from policy_service.cli import main
from pricing.expression_checks import constant_truth, implies
from pricing.expressions import Expression, compile_expression
from pricing.model import Edition
from tests.product_edits import (
    CODES,
    PRODUCTS,
    append_to_section,
    column_of,
    copy,
    first_product,
    line_of,
    loaded,
    newest,
    remove_section,
    replace_in_section,
    rule_item,
)


def has_rules(e: Edition) -> bool:
    return bool(e.claims)


def warnings_of(root: Path, code: str) -> list[str]:
    return [str(w) for w in loaded(root, code).warnings]


def test_a_rule_after_one_that_always_applies(tmp_path: Path) -> None:
    code = first_product("claim rules", has_rules)
    first = newest(code).claims[0]
    root, edition = copy(tmp_path, code)
    replace_in_section(edition, "claims", "when", "true")
    line = append_to_section(edition, "claims", rule_item(first, "late_rule", "premium > 0", "1"))
    warnings = warnings_of(root, code)
    when_line = line + 3  # code, trigger, match, when
    column = column_of(edition, when_line, "premium > 0")
    expected = f"edition.yaml:{when_line}:{column} (claims[{len(newest(code).claims)}].when)"
    assert any(expected in w and f"{first.code} before it" in w for w in warnings), warnings
    assert all("always applies" in w for w in warnings if "never reached" in w)


@pytest.mark.parametrize("never", ["false", "1 > 2", "premium > 0 and false"])
def test_a_rule_whose_when_is_always_false(tmp_path: Path, never: str) -> None:
    code = first_product("claim rules", has_rules)
    root, edition = copy(tmp_path, code)
    line = replace_in_section(edition, "claims", "when", never)
    (warning,) = warnings_of(root, code)
    assert f"edition.yaml:{line}:{column_of(edition, line, never)} (claims[0].when)" in warning
    assert "never applies: its `when` is always false" in warning


@pytest.mark.parametrize("narrower", ["{}", "({}) and premium > 0"])
def test_a_rule_whose_when_implies_an_earlier_rules(tmp_path: Path, narrower: str) -> None:
    code = first_product("claim rules", has_rules)
    first = newest(code).claims[0]
    root, edition = copy(tmp_path, code)
    when = narrower.format(first.when.source)
    line = append_to_section(edition, "claims", rule_item(first, "shadowed", when, "1"))
    (warning,) = warnings_of(root, code)
    assert f"edition.yaml:{line + 3}:" in warning and "(claims[" in warning
    assert (
        f"rule shadowed is never reached: whenever its `when` holds, so does the `when` of rule {first.code}"
        in warning
    )


def test_a_benefit_no_rule_pays(tmp_path: Path) -> None:
    code = first_product("benefits and claim rules", lambda e: bool(e.benefits and e.claims))
    root, edition = copy(tmp_path, code)
    n = len(newest(code).benefits)
    extra = {"code": "unpaid_extra", "description": "Paid by no rule", "amount": '"1.00"'}
    line = _append_benefit(edition, extra)
    (warning,) = warnings_of(root, code)
    assert f"edition.yaml:{line} (coverage.benefits[{n}].code)" in warning
    assert "no claim rule pays benefit unpaid_extra" in warning


def _append_benefit(edition: Path, item: dict[str, str]) -> int:
    """A benefit after the last one (benefits are a list inside the coverage section)."""
    lines = edition.read_text().splitlines()
    start = next(i for i, x in enumerate(lines) if x.strip() == "benefits:")
    indent = lines[start + 1][: len(lines[start + 1]) - len(lines[start + 1].lstrip())]
    end = start + 1
    while end < len(lines) and lines[end].startswith(indent) and lines[end].strip():
        end += 1
    block = [
        f"{indent}{'- ' if n == 0 else '  '}{key}: {value}"
        for n, (key, value) in enumerate(item.items())
    ]
    edition.write_text("\n".join([*lines[:end], *block, *lines[end:]]) + "\n")
    return end + 1


def test_an_edition_with_benefits_and_no_claim_rules(tmp_path: Path) -> None:
    code = first_product("benefits and claim rules", lambda e: bool(e.benefits and e.claims))
    root, edition = copy(tmp_path, code)
    remove_section(edition, "claims")
    (warning,) = warnings_of(root, code)
    line = line_of(edition, f"code: {newest(code).benefits[0].code}")  # where the list starts
    assert f"edition.yaml:{line} (coverage.benefits)" in warning
    assert "benefits but no claim rules" in warning


def test_tiers_from_the_highest_down_are_no_warning() -> None:
    """The usual order, the highest tier first, reaches every rule; the other way round
    the lower tier takes every claim."""
    names = ["delay", "status"]
    tz = ZoneInfo("UTC")

    def c(source: str) -> Expression:
        return compile_expression(source, names, tz)

    high, low = c("delay >= 240"), c("delay >= 120")
    assert not implies(low, high)
    assert implies(high, low)
    assert implies(c('status == "x" and delay > 3'), c('delay >= 3 and status != "y"'))
    assert not implies(c('status == "x" or delay > 3'), c("delay >= 3"))
    assert constant_truth(c("delay > 1 or true")) is True
    assert constant_truth(c("delay > 1")) is None


@pytest.mark.parametrize("code", CODES)
def test_the_shipped_rules_all_decide(code: str) -> None:
    """No shipped claim rule is unreachable (a benefit without a rule of its code may be
    meant: it is paid when someone files a claim)."""
    product = loaded(PRODUCTS, code)
    assert [w for w in product.warnings if "never" in w.message] == []


# -- products validate ---------------------------------------------------------------------


def test_validate_prints_warnings_and_says_ok(tmp_path: Path) -> None:
    code = first_product("claim rules", has_rules)
    root, edition = copy(tmp_path, code)
    line = replace_in_section(edition, "claims", "when", "false")
    result = CliRunner().invoke(main, ["products", "validate", str(root)])
    assert result.exit_code == 0, result.output
    assert f"ok      {code}:" in result.output
    rel = edition.relative_to(root).as_posix()
    column = column_of(edition, line, "false")
    assert f"warning  {rel}:{line}:{column} (claims[0].when): rule " in result.output
