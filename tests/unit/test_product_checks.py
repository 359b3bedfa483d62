"""What would fail when a rule runs is refused when the product loads, with file and line.

The tests take every product under products/ and break its newest edition the way an
actuary might: a refund rule or claim rule that is not true/false, a payout that is not a
number, a cover that is not a date-time, an enumeration value spelt wrong.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from pricing.errors import ProductInvalid
from pricing.loader import load_product, product_folders
from tests.edition_files import trigger_types

PRODUCTS = Path(__file__).resolve().parents[2] / "products"
TRIGGER_TYPES = trigger_types(PRODUCTS)
CODES = [p.name for p in product_folders(PRODUCTS)]


def newest_edition(folder: Path) -> Path:
    product = load_product(folder, folder.parent)
    return folder / "editions" / product.editions[-1].id / "edition.yaml"


def copy(tmp_path: Path, code: str) -> tuple[Path, Path]:
    root = tmp_path / "products"
    shutil.copytree(PRODUCTS / code, root / code)
    shutil.copytree(PRODUCTS / "triggers", root / "triggers")
    return root, newest_edition(root / code)


def replace_in_section(path: Path, section: str, key: str, change: str) -> int:
    """Rewrite the first `key:` line of a top-level section with `change` (a format string
    of the old value); returns its line number."""
    lines = path.read_text().splitlines()
    start = lines.index(f"{section}:")
    for i in range(start + 1, len(lines)):
        match = re.match(rf"^(\s*-?\s*){key}: (.*)$", lines[i])
        if match:
            lines[i] = f"{match.group(1)}{key}: {change.format(match.group(2))}"
            path.write_text("\n".join(lines) + "\n")
            return i + 1
        if lines[i] and not lines[i].startswith((" ", "#")):
            break
    raise AssertionError(f"no {key} under {section} in {path}")


def refused(root: Path, code: str) -> list[str]:
    with pytest.raises(ProductInvalid) as exc:
        load_product(root / code, root)
    return [str(e) for e in exc.value.errors]


@pytest.mark.parametrize("code", CODES)
def test_a_refund_rule_that_is_not_true_or_false(tmp_path: Path, code: str) -> None:
    root, edition = copy(tmp_path, code)
    line = replace_in_section(edition, "cancellation", "when", "({}) and coverage_start")
    (error,) = refused(root, code)
    assert f"edition.yaml:{line} (cancellation[0].when)" in error
    assert "'coverage_start' is date-time, not true/false" in error


@pytest.mark.parametrize("code", CODES)
def test_a_refund_rule_comparing_a_date_time_with_a_number(tmp_path: Path, code: str) -> None:
    root, edition = copy(tmp_path, code)
    line = replace_in_section(edition, "cancellation", "when", "now < 2")
    (error,) = refused(root, code)
    assert f"edition.yaml:{line} (cancellation[0].when)" in error
    assert "cannot compare date-time with number" in error


@pytest.mark.parametrize("code", CODES)
def test_a_claim_rule_that_is_not_true_or_false(tmp_path: Path, code: str) -> None:
    root, edition = copy(tmp_path, code)
    line = replace_in_section(edition, "claims", "when", "({}) and observed_at")
    (error,) = refused(root, code)
    assert f"edition.yaml:{line} (claims[0].when)" in error and "not true/false" in error


@pytest.mark.parametrize("code", CODES)
def test_a_payout_that_is_not_a_number(tmp_path: Path, code: str) -> None:
    root, edition = copy(tmp_path, code)
    line = replace_in_section(edition, "claims", "payout", "observed_at")
    (error,) = refused(root, code)
    assert f"edition.yaml:{line} (claims[" in error and "].payout)" in error
    assert "must give a number" in error


@pytest.mark.parametrize("code", CODES)
def test_a_cover_that_is_a_date(tmp_path: Path, code: str) -> None:
    root, edition = copy(tmp_path, code)
    line = replace_in_section(edition, "coverage", "ends", "date({})")
    (error,) = refused(root, code)
    assert f"edition.yaml:{line} (coverage.ends)" in error and "must give a date-time" in error


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
    assert f"edition.yaml:{line} (claims[0].when)" in error
    assert f"{typo!r} is not a value of {name}" in error
