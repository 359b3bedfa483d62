"""Customer service by the person: "my flight was late, where is my money?" is answered
from the ID card in hand. A partner finds a person's policies of every product by ID
number (through its keyed hash: the number is never stored), phone or name, and never
another partner's; the console finds them across partners. The products are read from
products/: every one that names its policyholder and is on sale at the tests' clock."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from flask import Flask

from policy_service.adapters.tables import policies
from pricing.loader import load_catalog
from pricing.model import Product
from tests.claims_helpers import resident_id
from tests.conftest import PRODUCTS, ApiClient, Clock
from tests.console_helpers import logged_in
from tests.endorsement_helpers import another

PERSON, OTHER = resident_id(7), resident_id(8)


def _products(clock: Clock) -> list[Product]:
    found = [
        p
        for p in load_catalog(PRODUCTS).products.values()
        if p.policyholder != "none" and p.edition_at(clock.now) is not None
    ]
    assert found, "products/ has no product naming its policyholder on sale at the clock"
    return found


def _issue(
    api: ApiClient, clock: Clock, product: Product, n: int, id_number: str, phone: str
) -> str:
    """A policy for the person; its insured subject made the n-th of its kind, so that no
    two policies here cover the same thing."""
    edition = product.edition_at(clock.now)
    assert edition is not None
    risk = edition.inputs.parse(edition.example(clock.now))
    if product.duplicate_cover is not None:
        for name in product.duplicate_cover.subject:
            if name in risk:
                for _ in range(n):
                    risk[name] = another(edition.inputs.by_name[name], risk[name])
    body = {
        "product": product.code,
        "external_ref": f"{product.code}-{n}-{id_number[-4:]}",
        "risk": edition.inputs.to_json(risk),
        "policyholder": {
            "name": "王芳",
            "id_type": "cn_resident_id",
            "id_number": id_number,
            "phone": phone,
        },
    }
    status, policy = api.post("/v1/policies", body)
    assert status == 201, policy
    return str(policy["id"])


def _found(api: ApiClient, **query: Any) -> set[str]:
    status, page = api.get("/v1/policies", limit=100, **query)
    assert status == 200, page
    return {p["id"] for p in page["data"]}


def test_a_person_is_found_across_products_and_only_within_the_partner(
    app: Flask, engine: sa.Engine, api: ApiClient, other_api: ApiClient, clock: Clock
) -> None:
    products = _products(clock)
    mine = {_issue(api, clock, p, 1, PERSON, "13800000001") for p in products}
    someone_else = _issue(api, clock, products[0], 2, OTHER, "13800000002")
    theirs = _issue(other_api, clock, products[0], 3, PERSON, "13800000001")

    assert _found(api, policyholder_id_number=PERSON) == mine
    assert _found(api, policyholder_id_number=PERSON.lower()) == mine  # as typed from a card
    assert _found(api, policyholder_id_number=PERSON, policyholder_id_type="cn_resident_id") == mine
    assert _found(api, policyholder_id_number=PERSON, policyholder_id_type="passport") == set()
    assert _found(api, policyholder_phone="13800000001") == mine
    assert _found(api, policyholder_name="王芳") == mine | {someone_else}
    assert _found(api, policyholder_name="王芳", policyholder_phone="13800000002") == {someone_else}
    assert _found(other_api, policyholder_id_number=PERSON) == {theirs}
    assert _found(api, policyholder_id_number=resident_id(9)) == set()

    # the number itself is nowhere in the database, only its keyed hash and last 4
    with engine.connect() as conn:
        stored = [dict(r._mapping) for r in conn.execute(sa.select(policies))]
    assert PERSON not in repr(stored)

    for query, param in (
        ({"policyholder_id_type": "passport"}, "policyholder_id_type"),
        ({"policyholder_phone": "call me"}, "policyholder_phone"),
        ({"policyholder_id_number": "  "}, "policyholder_id_number"),
    ):
        status, error = api.get("/v1/policies", **query)
        assert (status, error["error"]["param"]) == (400, param), query

    # the console searches every partner
    console = logged_in(app, engine, "li.na@ops.example", "reviewer")
    page = console.get(f"/ops/policies?policyholder_id_number={PERSON}").get_data(as_text=True)
    assert set(re.findall(r'href="/ops/policies/(pol_[^"]+)"', page)) == mine | {theirs}
