"""GET /v1/products: a partner can integrate from the API alone."""

from __future__ import annotations

from pricing.loader import load_catalog
from tests.conftest import ApiClient, Clock
from tests.edition_files import PRODUCTS, product_codes


def test_lists_every_product_with_the_edition_in_force(api: ApiClient, clock: Clock) -> None:
    status, body = api.get("/v1/products")
    assert status == 200
    assert body["object"] == "list"
    assert [p["code"] for p in body["data"]] == product_codes()
    files = load_catalog(PRODUCTS).products
    for product in body["data"]:
        in_force = files[product["code"]].edition_at(clock.now)
        current = product["current_edition"]
        if in_force is None:  # its first edition comes into force later: listed, not sold
            assert current is None and product["example_risk"] is None
            continue
        assert (current["id"], current["content_hash"]) == (in_force.id, in_force.content_hash)


def test_product_has_risk_schema_and_terms(api: ApiClient) -> None:
    status, body = api.get("/v1/products/flight_delay")
    assert status == 200
    schema = body["risk_schema"]
    assert set(schema["required"]) == {
        "carrier", "flight_number", "origin", "destination", "scheduled_departure",
    }  # fmt: skip
    assert schema["properties"]["scheduled_departure"]["format"] == "date-time"
    assert body["policyholder"] == "required"
    assert body["duplicate_cover"] == {
        "subject": ["carrier", "flight_number", "scheduled_departure"],
        "per_insured": True,
    }
    assert {r["code"] for r in body["eligibility"]} >= {"departure_too_soon"}
    assert [b["code"] for b in body["benefits"]] == ["delay_120", "delay_240", "cancellation"]
    assert body["benefits"][0]["amount"] == {"amount": "100.00", "currency": "CNY"}


def test_every_example_risk_quotes_successfully(api: ApiClient) -> None:
    _, products = api.get("/v1/products")
    on_sale = [p for p in products["data"] if p["current_edition"] is not None]
    assert on_sale
    for product in on_sale:
        status, quote = api.post(
            "/v1/quotes", {"product": product["code"], "risk": product["example_risk"]}
        )
        assert status == 201, quote
        assert quote["product"] == product["code"]


def test_unknown_product_is_404_in_the_error_shape(api: ApiClient) -> None:
    status, body = api.get("/v1/products/pet_insurance")
    assert status == 404
    assert body["error"]["type"] == "invalid_request"
    assert body["error"]["code"] == "resource_missing"
