"""POST /v1/quotes: itemised premium, worksheet, eligibility, input validation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.conftest import ApiClient, flight_risk, shipping_risk


def test_quote_itemises_the_premium_as_the_product_test_case_says(api: ApiClient) -> None:
    status, quote = api.post("/v1/quotes", {"product": "return_shipping", "risk": shipping_risk()})
    assert status == 201, quote
    assert quote["id"].startswith("qt_")
    premium = quote["premium"]
    assert premium["total"] == {"amount": "2.09", "currency": "CNY"}
    assert premium["tax"]["amount"] == "0.12"
    assert premium["commission"]["amount"] == "0.39"
    assert premium["net"]["amount"] == "1.58"
    parts = sum(Decimal(premium[k]["amount"]) for k in ("net", "tax", "commission", "fees"))
    assert parts == Decimal(premium["total"]["amount"])
    assert quote["edition"]["id"] == "2026-11-25"
    assert quote["expires_at"] == "2026-11-25T02:30:00Z"
    assert quote["coverage"]["starts_at"] == "2026-11-25T02:00:00Z"
    # seven days after delivery on 2026-11-28, to the end of that day in China
    assert quote["coverage"]["ends_at"] == "2026-12-05T16:00:00Z"
    assert quote["refund_terms"][0]["refund"] == "full"


def test_worksheet_explains_the_premium_to_the_cent(api: ApiClient) -> None:
    _, quote = api.post("/v1/quotes", {"product": "flight_delay", "risk": flight_risk()})
    steps = quote["worksheet"]["steps"]
    factors = {s["name"]: s for s in steps if s["step"] == "factor"}
    assert factors["carrier"]["factor"] == "1.00"
    assert factors["carrier"]["source"].endswith("carrier.csv:4")
    assert factors["departure_month"]["lookup"] == {"departure_month": 7}
    assert factors["departure_hour"]["factor"] == "0.95"
    # replay the arithmetic from the worksheet alone
    running = Decimal(steps[0]["value"])
    for step in steps:
        if step["step"] == "factor":
            running *= Decimal(step["factor"])
        elif step["step"] == "loading" and step["applied"]:
            running *= 1 + Decimal(step["rate"])
    rounding = next(s for s in steps if s["step"] == "rounding")
    assert running.quantize(Decimal("0.1")) == Decimal(rounding["running"]) == Decimal("19.10")
    assert quote["worksheet"]["content_hash"] == quote["edition"]["content_hash"]
    assert quote["premium"]["total"]["amount"] == "19.10"


def test_ineligible_risk_is_422_with_every_reason_code(api: ApiClient) -> None:
    risk = shipping_risk(
        category="virtual_goods", order_value={"amount": "6000.00", "currency": "CNY"}
    )
    status, body = api.post("/v1/quotes", {"product": "return_shipping", "risk": risk})
    assert status == 422
    assert body["error"]["code"] == "ineligible"
    assert {r["code"] for r in body["error"]["reasons"]} == {
        "virtual_goods",
        "order_value_above_limit",
    }


def test_flight_too_close_to_departure_is_refused(api: ApiClient) -> None:
    risk = flight_risk(scheduled_departure="2026-11-25T11:30:00+08:00")  # 1.5 h after START
    status, body = api.post("/v1/quotes", {"product": "flight_delay", "risk": risk})
    assert status == 422
    assert body["error"]["reasons"][0]["code"] == "departure_too_soon"


@pytest.mark.parametrize(
    ("risk", "param", "message"),
    [
        (
            shipping_risk(order_value={"amount": 12.5, "currency": "CNY"}),
            "risk.order_value",
            "float",
        ),
        (
            shipping_risk(order_value={"amount": "12.50", "currency": "USD"}),
            "risk.order_value",
            "CNY",
        ),
        (
            shipping_risk(order_value={"amount": "12.505", "currency": "CNY"}),
            "risk.order_value",
            "decimals",
        ),
        (shipping_risk(category="cars"), "risk.category", "one of"),
        (shipping_risk(delivery_date="28/11/2026"), "risk.delivery_date", "YYYY-MM-DD"),
        (shipping_risk(colour="red"), "risk.colour", "not an input"),
        (
            {k: v for k, v in shipping_risk().items() if k != "category"},
            "risk.category",
            "required",
        ),
    ],
)
def test_invalid_input_names_the_field(
    api: ApiClient, risk: dict, param: str, message: str
) -> None:
    status, body = api.post("/v1/quotes", {"product": "return_shipping", "risk": risk})
    assert status == 400
    assert body["error"]["type"] == "invalid_request"
    assert body["error"]["param"] == param
    assert message in body["error"]["message"]


def test_datetime_without_offset_is_refused(api: ApiClient) -> None:
    risk = flight_risk(scheduled_departure="2027-07-15T08:00:00")
    status, body = api.post("/v1/quotes", {"product": "flight_delay", "risk": risk})
    assert status == 400
    assert body["error"]["param"] == "risk.scheduled_departure"
    assert "offset" in body["error"]["message"]


def test_every_invalid_field_is_listed(api: ApiClient) -> None:
    risk = shipping_risk(category="cars", shipping_region="mars")
    _, body = api.post("/v1/quotes", {"product": "return_shipping", "risk": risk})
    assert [e["param"] for e in body["error"]["errors"]] == [
        "risk.category",
        "risk.shipping_region",
    ]


def test_unknown_product_and_missing_fields(api: ApiClient) -> None:
    status, body = api.post("/v1/quotes", {"product": "pets", "risk": {}})
    assert (status, body["error"]["param"], body["error"]["code"]) == (
        400,
        "product",
        "unknown_product",
    )
    status, body = api.post("/v1/quotes", {"risk": {}})
    assert (status, body["error"]["param"]) == (400, "product")
    status, body = api.post("/v1/quotes", {"product": "return_shipping", "risk": {}, "x": 1})
    assert (status, body["error"]["param"]) == (400, "x")


def test_quote_is_stored_in_the_database(api: ApiClient, engine) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from policy_service.adapters.tables import quotes

    _, quote = api.post("/v1/quotes", {"product": "return_shipping", "risk": shipping_risk()})
    with engine.connect() as conn:
        row = conn.execute(sa.select(quotes).where(quotes.c.id == quote["id"])).one()
    assert row.premium_total == 209  # integer minor units, never a float
    assert row.content_hash == quote["edition"]["content_hash"]
