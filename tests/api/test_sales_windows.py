"""Sales windows, the longest cover, example risks that never expire, schedule changes and
rules that fail at run time: on the editions in force from 2026-12-03."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from policy_service import create_app
from policy_service.adapters.tables import ledger_entries
from policy_service.config import Config
from pricing.loader import load_catalog

from ..claims_helpers import Bearer, flight_status, provider_key
from ..conftest import PRODUCTS, ApiClient, Clock, flight_policy, make_partner, shipping_policy

NOW = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


def _quote(api: ApiClient, product: str, risk: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return api.post("/v1/quotes", {"product": product, "risk": risk})


def _reasons(answer: dict[str, Any]) -> list[str]:
    return [r["code"] for r in answer["error"]["reasons"]]


def test_flights_sell_up_to_a_year_ahead(api: ApiClient) -> None:
    risk = flight_policy()["risk"]
    status, quote = _quote(
        api, "flight_delay", {**risk, "scheduled_departure": "2027-07-15T08:00:00+08:00"}
    )
    assert status == 201 and quote["edition"]["id"] == "2026-12-03"
    for departure in ("2199-07-15T08:00:00+08:00", "2027-12-11T08:00:00+08:00"):
        status, refused = _quote(api, "flight_delay", {**risk, "scheduled_departure": departure})
        assert status == 422 and _reasons(refused) == ["departure_too_far"], refused


def test_returns_sell_for_deliveries_within_a_month(api: ApiClient) -> None:
    body = shipping_policy("order-1")
    status, quote = _quote(api, "return_shipping", {**body["risk"], "delivery_date": "2026-12-30"})
    assert status == 201
    # three and a half years of cover were on sale before
    status, refused = _quote(
        api, "return_shipping", {**body["risk"], "delivery_date": "2030-06-20"}
    )
    assert status == 422 and _reasons(refused) == ["delivery_too_far"]
    cover = quote["coverage"]
    assert cover["starts_at"] == "2026-12-29T16:00:00Z"  # the delivery date, in Shanghai


def test_a_cover_longer_than_the_edition_allows_is_refused(
    config: Config, engine: sa.Engine, products_copy: Path, clock: Clock
) -> None:
    # A cover from the sale (not the delivery) makes the cover's length follow the delivery.
    edition = products_copy / "return_shipping" / "editions" / "2026-12-03" / "edition.yaml"
    text = edition.read_text()
    for old, new in (
        ("starts: max(now, start_of_day(delivery_date))", "starts: now"),
        ("longest: days(40)", "longest: days(10)"),
        ("delivery_date: date(now + days(3))", "delivery_date: date(now)"),
    ):
        assert old in text
        text = text.replace(old, new)
    edition.write_text(text)
    app = create_app(config.with_(products_dir=products_copy), clock=clock)
    try:
        partner, key = make_partner(engine)
        api = ApiClient(app.test_client(), key, partner)
        risk = {**shipping_policy("order-1")["risk"], "delivery_date": "2026-12-25"}
        status, refused = _quote(api, "return_shipping", risk)
        assert status == 422 and _reasons(refused) == ["cover_too_long"], refused
        assert "covers at most 10.0 days" in refused["error"]["reasons"][0]["message"]
    finally:
        app.extensions["policy_service"].dispose()


@pytest.mark.parametrize("years", [0, 1, 5])
def test_every_example_risk_quotes_whenever_it_is_asked_for(
    config: Config, engine: sa.Engine, years: int
) -> None:
    later = Clock(NOW + timedelta(days=365 * years))
    app = create_app(config, clock=later)
    try:
        partner, key = make_partner(engine, f"Shop {years}")
        api = ApiClient(app.test_client(), key, partner)
        for code in load_catalog(PRODUCTS).products:
            _, product = api.get(f"/v1/products/{code}")
            status, quote = _quote(api, code, product["example_risk"])
            assert status == 201, (code, later.now, quote)
    finally:
        app.extensions["policy_service"].dispose()


@pytest.fixture
def feed(app: Flask, engine: sa.Engine) -> Bearer:
    return Bearer(app.test_client(), provider_key(engine))


def _flight(api: ApiClient, departure: datetime, ref: str = "booking-1") -> dict[str, Any]:
    body = flight_policy(ref, scheduled_departure=departure.isoformat())
    status, policy = api.post("/v1/policies", body)
    assert status == 201, policy
    return policy


def test_a_cancellation_announced_days_ahead_refunds_the_premium_and_pays_nothing(
    api: ApiClient, feed: Bearer, engine: sa.Engine
) -> None:
    departure = NOW + timedelta(days=5)
    policy = _flight(api, departure)
    report = flight_status(None, "cancelled", "MU5101", departure.isoformat(), NOW.isoformat())
    status, trigger = feed.post("/v1/trigger-events", report)
    assert status == 201 and trigger["result"]["refunded"] == 1, trigger
    _, voided = api.get(f"/v1/policies/{policy['id']}")
    assert voided["status"] == "cancelled"
    assert voided["cancellation"]["reason"] == "trigger_refund"
    assert voided["cancellation"]["refund"] == policy["premium"]["total"]
    assert api.get("/v1/claims", policy=policy["id"])[1]["data"] == []
    with engine.connect() as conn:
        kinds = conn.execute(
            sa.select(ledger_entries.c.kind).where(ledger_entries.c.policy_id == policy["id"])
        ).scalars()
        assert sorted(kinds) == ["premium", "refund"]


def test_a_cancellation_on_the_day_pays_the_benefit(api: ApiClient, feed: Bearer) -> None:
    departure = NOW + timedelta(hours=20)
    policy = _flight(api, departure)
    assert policy["coverage"]["starts_at"] == "2026-12-10T02:00:00Z"  # bought now
    report = flight_status(None, "cancelled", "MU5101", departure.isoformat(), NOW.isoformat())
    status, trigger = feed.post("/v1/trigger-events", report)
    assert status == 201 and trigger["result"]["paid"] == 1, trigger
    (claim,) = api.get("/v1/claims", policy=policy["id"])[1]["data"]
    assert (claim["type"], claim["amount_paid"]["amount"]) == ("cancellation", "200.00")
    # the passenger cannot also have the premium back
    status, cancelled = api.post(f"/v1/policies/{policy['id']}/cancel", {"reason": "other"})
    assert status == 200 and cancelled["cancellation"]["refund"]["amount"] == "0.00"


def test_a_refund_rule_that_fails_at_run_time_is_a_clear_refusal_that_changes_nothing(
    config: Config, engine: sa.Engine, products_copy: Path, clock: Clock, caplog: Any
) -> None:
    # Well typed, so it loads, but it divides by zero when a cancellation asks for it.
    edition = products_copy / "flight_delay" / "editions" / "2026-12-03" / "edition.yaml"
    text = edition.read_text()
    old = "  - when: now < scheduled_departure - hours(2)"
    assert old in text
    edition.write_text(text.replace(old, "  - when: now < scheduled_departure - hours(2 / 0)"))
    app = create_app(config.with_(products_dir=products_copy), clock=clock)
    try:
        partner, key = make_partner(engine)
        api = ApiClient(app.test_client(), key, partner)
        policy = _flight(api, NOW + timedelta(days=3))
        status, refused = api.post(f"/v1/policies/{policy['id']}/cancel", {"reason": "other"})
        assert status == 422, refused
        assert refused["error"]["code"] == "product_evaluation_failed"
        assert "flight_delay/2026-12-03" in refused["error"]["message"]
        assert api.get(f"/v1/policies/{policy['id']}")[1]["status"] == "active"
        assert any("could not compute the refund" in r.message for r in caplog.records)
    finally:
        app.extensions["policy_service"].dispose()
        shutil.rmtree(products_copy)


def test_the_example_delivery_follows_the_time_of_quoting(api: ApiClient) -> None:
    _, product = api.get("/v1/products/return_shipping")
    assert product["example_risk"]["delivery_date"] == (NOW.date() + timedelta(days=3)).isoformat()
    assert date.fromisoformat(product["example_risk"]["delivery_date"]) > NOW.date()
