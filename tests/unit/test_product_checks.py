"""What would fail when a rule runs is refused when the product loads, with file, line and
(inside an expression) column.

The tests take every product under products/ and break its newest edition the way an
actuary might: a refund rule or claim rule that is not true/false, a payout that is not a
number, a cover that is not a date-time, an enumeration value spelt wrong.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_service.cli import main
from pricing.loader import load_product
from tests.edition_files import trigger_types
from tests.product_edits import (
    CODES,
    PRODUCTS,
    column_of,
    copy,
    refused,
    replace_in_section,
)

TRIGGER_TYPES = trigger_types(PRODUCTS)


@pytest.mark.parametrize("code", CODES)
def test_a_refund_rule_that_is_not_true_or_false(tmp_path: Path, code: str) -> None:
    root, edition = copy(tmp_path, code)
    line = replace_in_section(edition, "cancellation", "when", "({}) and coverage_start")
    (error,) = refused(root, code)
    column = column_of(edition, line, "coverage_start")
    assert f"edition.yaml:{line}:{column} (cancellation[0].when)" in error
    assert "'coverage_start' is date-time, not true/false" in error


@pytest.mark.parametrize("code", CODES)
def test_a_refund_rule_comparing_a_date_time_with_a_number(tmp_path: Path, code: str) -> None:
    root, edition = copy(tmp_path, code)
    line = replace_in_section(edition, "cancellation", "when", "now < 2")
    (error,) = refused(root, code)
    assert (
        f"edition.yaml:{line}:{column_of(edition, line, 'now < 2')} (cancellation[0].when)" in error
    )
    assert "cannot compare date-time with number" in error


@pytest.mark.parametrize("code", CODES)
def test_a_claim_rule_that_is_not_true_or_false(tmp_path: Path, code: str) -> None:
    root, edition = copy(tmp_path, code)
    line = replace_in_section(edition, "claims", "when", "({}) and observed_at")
    (error,) = refused(root, code)
    column = column_of(edition, line, "observed_at")
    assert f"edition.yaml:{line}:{column} (claims[0].when)" in error and "not true/false" in error


@pytest.mark.parametrize("code", CODES)
def test_a_payout_that_is_not_a_number(tmp_path: Path, code: str) -> None:
    root, edition = copy(tmp_path, code)
    line = replace_in_section(edition, "claims", "payout", "observed_at")
    (error,) = refused(root, code)
    assert f"edition.yaml:{line}:{column_of(edition, line, 'observed_at')} (claims[" in error
    assert "].payout)" in error
    assert "must give a number" in error


@pytest.mark.parametrize("code", CODES)
def test_a_cover_that_is_a_date(tmp_path: Path, code: str) -> None:
    root, edition = copy(tmp_path, code)
    line = replace_in_section(edition, "coverage", "ends", "date({})")
    (error,) = refused(root, code)
    assert f"edition.yaml:{line}:{column_of(edition, line, 'date(')} (coverage.ends)" in error
    assert "must give a date-time" in error


def _enum_field(code: str) -> tuple[str, tuple[str, ...]] | None:
    product = load_product(PRODUCTS / code, PRODUCTS)
    rule = product.editions[-1].claims[0]
    for spec in TRIGGER_TYPES[rule.trigger].fields.specs:
        if spec.enum:
            return spec.name, spec.enum
    return None


@pytest.mark.parametrize("code", [c for c in CODES if _enum_field(c)])
def test_a_value_the_enumeration_does_not_have(tmp_path: Path, code: str) -> None:
    field = _enum_field(code)
    assert field is not None
    name, values = field
    typo = values[-1][:-1] + "x"
    root, edition = copy(tmp_path, code)
    line = replace_in_section(edition, "claims", "when", f'({{}}) or {name} == "{typo}"')
    (error,) = refused(root, code)
    assert f"edition.yaml:{line}:{column_of(edition, line, typo) - 1} (claims[0].when)" in error
    assert f"{typo!r} is not a value of {name}" in error


@pytest.mark.parametrize("code", CODES)
def test_validate_refuses_with_file_line_and_column(tmp_path: Path, code: str) -> None:
    root, edition = copy(tmp_path, code)
    line = replace_in_section(edition, "claims", "when", "({}) and observed_at")
    result = CliRunner().invoke(main, ["products", "validate", str(root / code)])
    assert result.exit_code == 1, result.output
    rel = edition.relative_to(root).as_posix()
    column = column_of(edition, line, "observed_at")
    assert f"REFUSED {code}:" in result.output
    assert f"  {rel}:{line}:{column} (claims[0].when): 'observed_at' is date-time" in result.output


@pytest.mark.parametrize("code", CODES)
def test_an_expression_not_as_written_keeps_its_own_column(tmp_path: Path, code: str) -> None:
    """A folded or escaped scalar is not the expression character for character: the file
    line, and the column within the expression."""
    root, edition = copy(tmp_path, code)
    line = replace_in_section(edition, "claims", "when", ">-\n      ({})\n      and observed_at")
    (error,) = refused(root, code)
    assert f"edition.yaml:{line} (claims[0].when):" in error
    assert "'observed_at' is date-time, not true/false at column" in error
