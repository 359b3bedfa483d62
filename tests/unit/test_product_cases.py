"""Every test case in products/*/tests.yaml, one pytest test each."""

from __future__ import annotations

import pytest

from pricing.loader import load_catalog
from pricing.testcases import run_case
from tests.edition_files import PRODUCTS, product_codes

CATALOG = load_catalog(PRODUCTS)
CASES = [
    pytest.param(product, case, id=f"{code}:{case.line}:{case.name}")
    for code, product in sorted(CATALOG.products.items())
    for case in product.tests
]


def test_every_product_folder_loads() -> None:
    assert CATALOG.refused == {}
    assert sorted(CATALOG.products) == product_codes()


@pytest.mark.parametrize(("product", "case"), CASES)
def test_product_case(product, case) -> None:  # type: ignore[no-untyped-def]
    result = run_case(product, case)
    assert result.passed, f"{result.where}: " + "; ".join(result.problems)
