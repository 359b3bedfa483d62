"""product.yaml's `identifiers:` (inputs naming the insured thing, which an exported book
carries as keyed hashes): a name that is no string input, or one the pricing reads, is
refused with the file and line; the stand-in the book jobs price with gives every test
case of the product the premium its real value gave. Products are read from products/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pricing import engine, identifiers
from pricing.errors import ProductInvalid
from pricing.loader import load_catalog, load_product
from pricing.model import Product
from tests.edition_files import PRODUCTS

CATALOG = load_catalog(PRODUCTS)
NAMED = [p for _, p in sorted(CATALOG.products.items()) if p.identifiers]
CODE = NAMED[0].code
FILE = f"{CODE}/product.yaml"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(PRODUCTS, tmp_path / "products")
    return tmp_path / "products"


def _naming(root: Path, names: str) -> Path:
    path = root / FILE
    text = path.read_text()
    start = text.index("\nidentifiers:")
    end = text.index("\n", start + 1)
    path.write_text(f"{text[:start]}\nidentifiers: {names}{text[end:]}")
    return path


def _errors(root: Path) -> list[str]:
    with pytest.raises(ProductInvalid) as exc:
        load_product(root / CODE, root)
    return [str(e) for e in exc.value.errors]


def _line(path: Path) -> int:
    lines = path.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith("identifiers:"))


def test_the_products_identifiers_are_never_priced_on() -> None:
    assert NAMED, "no product in products/ names identifiers"
    for product in NAMED:
        for edition in product.editions:
            assert not set(product.identifiers) & identifiers.priced_on(edition)


def test_an_input_the_pricing_reads_is_refused_with_its_line(root: Path) -> None:
    edition = NAMED[0].editions[-1]
    priced = sorted(
        s.name for s in edition.inputs.specs if s.type == "string" and s.name in
        identifiers.priced_on(edition)
    )  # fmt: skip
    assert priced, f"{edition.ref} prices on no string input"
    path = _naming(root, f"[{priced[0]}]")
    errors = _errors(root)
    assert errors and all(e.startswith(f"{FILE}:{_line(path)}") for e in errors)
    assert f"{priced[0]!r} is read by the pricing of edition {edition.id}" in errors[-1]


def test_a_name_that_is_no_string_input_is_refused(root: Path) -> None:
    edition = NAMED[0].editions[-1]
    other = next(s.name for s in edition.inputs.specs if s.type != "string")
    path = _naming(root, f"[colour, {other}]")
    errors = _errors(root)
    assert all(e.startswith(f"{FILE}:{_line(path)}") for e in errors)
    assert any("'colour' is not an input of any edition" in e for e in errors)
    assert any(f"{other!r} is not a string input in edition {edition.id}" in e for e in errors)
    _naming(root, "order_id")
    assert any("must list input names" in e for e in _errors(root))


@pytest.mark.parametrize("product", NAMED, ids=lambda p: p.code)
def test_a_stand_in_prices_every_case_as_its_real_value_did(product: Product) -> None:
    stand_ins = identifiers.stand_ins(product.identifiers, product.editions)
    assert set(stand_ins) == set(product.identifiers)
    checked = 0
    for case in product.tests:
        edition = product.edition_at(case.quoted_at)
        if case.kind != "premium" or edition is None:
            continue
        if not set(stand_ins) & set(case.risk):
            continue
        real = engine.price(edition, edition.inputs.parse(case.risk), case.quoted_at)
        hidden = edition.inputs.parse({**case.risk, **stand_ins})
        standing = engine.price(edition, hidden, case.quoted_at)
        assert standing.breakdown == real.breakdown, case.name
        assert standing.refusals == real.refusals, case.name
        checked += 1
    assert checked, f"{product.code}: no premium case names an identifier"
