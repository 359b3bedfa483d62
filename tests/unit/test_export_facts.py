"""What of a report leaves an export with its claim (services/book_export.Masking): only
the fields some edition's claim rules or the trigger type's event time read, so an order
number, a partner's order id or a tracking number the rules only match on never leaves;
an identifier among the fields read leaves as its keyed hash. Every product's paying
reports are read from products/ (their tests.yaml)."""

from __future__ import annotations

import pytest

from policy_service.services.book_export import Masking
from pricing.loader import load_catalog
from pricing.model import Product
from tests.edition_files import PRODUCTS

CATALOG = load_catalog(PRODUCTS)
MASK = Masking.of(CATALOG.products.values(), b"facts-test-key", CATALOG.triggers)
WITH_REPORTS = [p for _, p in sorted(CATALOG.products.items()) if any(c.trigger for c in p.tests)]


def read_by(product: Product, trigger: str) -> set[str]:
    found = CATALOG.triggers.get(trigger)
    assert found is not None
    read = set(found.event_time.names)
    for edition in product.editions:
        for rule in edition.claims:
            if rule.trigger == trigger:
                read |= rule.when.names | (rule.payout.names if rule.payout else set())
    return read


@pytest.mark.parametrize("product", WITH_REPORTS, ids=lambda p: p.code)
def test_a_report_leaves_with_the_fields_its_rules_read_only(product: Product) -> None:
    assert WITH_REPORTS, "products/ ships no product whose tests report a fact"
    for case in product.tests:
        fact = case.trigger
        if fact is None:
            continue
        data = fact.type.fields.to_json(fact.values)
        out = MASK.hide_facts(product.code, fact.type.name, data)
        read = read_by(product, fact.type.name)
        assert set(out) == set(data) & read, case.name
        matched_only = {n for s in fact.type.subjects for n in s} - read
        assert not matched_only & set(out)
        for name, value in out.items():
            if name in product.identifiers:
                assert value != data[name] and len(value) == 64  # its keyed hash
            else:
                assert value == data[name]


def test_a_product_the_files_do_not_hold_stops_the_export() -> None:
    with pytest.raises(LookupError, match="restore its folder"):
        MASK.hide_facts("no_such_product", "flight.status", {"delay_minutes": 1})
