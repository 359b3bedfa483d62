"""product.yaml's `endorsements:` section: a mistake is refused with the file, the line and
the reason; a rule's `when` is checked against every edition. The product is read from
products/: the first one that declares endorsements."""

from __future__ import annotations

import shutil
from datetime import UTC, timedelta
from pathlib import Path

import pytest

from pricing import engine
from pricing.errors import ProductInvalid
from pricing.loader import load_catalog, load_product
from tests.edition_files import PRODUCTS

CODE = next(c for c, p in sorted(load_catalog(PRODUCTS).products.items()) if p.endorsements)
FILE = f"{CODE}/product.yaml"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(PRODUCTS, tmp_path / "products")
    return tmp_path / "products"


def _section(root: Path, text: str) -> Path:
    """product.yaml with its endorsements section replaced by `text`."""
    path = root / FILE
    kept = path.read_text().split("\nendorsements:")[0]
    path.write_text(kept + "\n" + text)
    return path


def _errors(root: Path) -> list[str]:
    with pytest.raises(ProductInvalid) as exc:
        load_product(root / CODE, root)
    return [str(e) for e in exc.value.errors]


def _line(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_a_field_that_is_no_input_is_named_with_its_line(root: Path) -> None:
    path = _section(root, "endorsements:\n  risk: [colour]\n")
    errors = _errors(root)
    assert errors and all(e.startswith(f"{FILE}:{_line(path, 'colour')}") for e in errors)
    assert "'colour' is not an input of edition" in errors[0]


def test_the_id_never_changes(root: Path) -> None:
    path = _section(root, "endorsements:\n  policyholder: [name, id_number]\n")
    [error] = _errors(root)
    assert error.startswith(f"{FILE}:{_line(path, 'id_number')}")
    assert "'id_number' cannot change; one of: name, phone" in error


def test_a_rule_is_type_checked_once_not_once_per_edition(root: Path) -> None:
    path = _section(
        root,
        "endorsements:\n  policyholder: [name]\n  refuse:\n"
        "    - code: late\n      when: no_such_name > 2\n      message: too late\n",
    )
    [error] = _errors(root)
    assert error.startswith(f"{FILE}:{_line(path, 'no_such_name')}")
    assert "no_such_name" in error


def test_nothing_to_change_and_unknown_keys_are_refused(root: Path) -> None:
    _section(root, "endorsements:\n  refuse: []\n  until: tomorrow\n")
    errors = _errors(root)
    assert any("unknown key 'until'" in e for e in errors)
    assert any("name what may change" in e for e in errors)


def test_the_shipped_rules_allow_a_change_when_sold_and_refuse_it_after_the_cover() -> None:
    product = load_catalog(PRODUCTS).products[CODE]
    rules = product.endorsements
    assert rules is not None and rules.refuse
    checked = 0
    for case in product.tests:
        edition = product.edition_at(case.quoted_at)
        if case.kind != "premium" or "refused" in case.expect or edition is None:
            continue
        if case.edition not in (None, edition.id):
            continue
        risk = edition.inputs.parse(case.risk)
        priced = engine.price(edition, risk, case.quoted_at)
        start, end = priced.coverage_start, priced.coverage_end
        if not priced.eligible or start is None or end is None:
            continue
        at_sale = engine.endorsement_refusals(
            edition, rules.refuse, risk, start, end, case.quoted_at, case.quoted_at.astimezone(UTC)
        )
        after = engine.endorsement_refusals(
            edition, rules.refuse, risk, start, end, case.quoted_at, end + timedelta(seconds=1)
        )
        assert (at_sale, bool(after)) == ([], True), case.name
        checked += 1
    assert checked, f"{CODE}/tests.yaml has no premium case to read the rules on"


def test_a_chinese_message_for_no_refusal_is_a_warning_with_its_line(root: Path) -> None:
    """A warning, not a refusal: the edition that had the code may have left the folder."""
    path = root / FILE
    text = path.read_text()
    if "\nmessages_zh:" not in text:
        path.write_text(text + "\nmessages_zh:\n")
    marked = path.read_text().replace("\nmessages_zh:\n", "\nmessages_zh:\n  no_such_code: 没有\n")
    path.write_text(marked)
    product = load_product(root / CODE, root)
    [warning] = [str(w) for w in product.warnings if "no_such_code" in str(w)]
    assert warning.startswith(f"{FILE}:{_line(path, 'no_such_code')}")
    assert "no refusal has code 'no_such_code'" in warning
