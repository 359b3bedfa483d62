"""Issuing, reading, listing and cancelling policies."""

from __future__ import annotations

import sqlalchemy as sa

from policy_service.adapters.tables import events, policies
from tests.conftest import (
    OTHER_RESIDENT_ID,
    ApiClient,
    Clock,
    flight_policy,
    passenger,
    shipping_policy,
    shipping_risk,
)


def test_issue_directly_from_a_risk(api: ApiClient, engine: sa.Engine) -> None:
    status, pol = api.post("/v1/policies", flight_policy())
    assert status == 201, pol
    assert pol["id"].startswith("pol_")
    assert pol["status"] == "active"
    assert pol["premium"]["total"] == {"amount": "19.10", "currency": "CNY"}
    assert pol["policyholder"] == {
        "name": "张三",
        "id_type": "cn_resident_id",
        "id_last4": "002X",
        "phone": None,
    }
    assert pol["coverage"]["starts_at"] == "2027-07-15T00:00:00Z"
    with engine.connect() as conn:
        row = conn.execute(sa.select(policies).where(policies.c.id == pol["id"])).one()
        evts = conn.execute(sa.select(events).where(events.c.object_id == pol["id"])).all()
    # the ID number itself is stored nowhere: a keyed hash and the last 4 only
    assert "11010519491231002X" not in str(tuple(row))
    assert len(row.policyholder_id_hash) == 64
    assert row.edition_id == "flight_delay/2026-11-25"
    assert [e.type for e in evts] == ["policy.issued"]
    # the policy's JSON is kept once, in its row: its event names it, the pinned edition
    # gives its worksheet again
    assert evts[0].data is None and row.worksheet is None
    _, event = api.get(f"/v1/events/{evts[0].id}")
    assert event["data"]["object"] == pol
    _, again = api.get(f"/v1/policies/{pol['id']}")
    assert again == pol


def test_issue_from_a_quote_holds_the_quoted_price(api: ApiClient, clock: Clock) -> None:
    _, quote = api.post(
        "/v1/quotes", {"product": "return_shipping", "risk": shipping_risk(), "external_ref": "o-7"}
    )
    clock.advance(minutes=20)
    status, pol = api.post("/v1/policies", {"quote": quote["id"]})
    assert status == 201, pol
    assert pol["quote"] == quote["id"]
    assert pol["external_ref"] == "o-7"
    assert pol["premium"] == quote["premium"]
    # the worksheet explains the quoted premium; the cover starts when the policy is issued
    assert pol["worksheet"]["steps"] == quote["worksheet"]["steps"]
    assert pol["worksheet"]["quote"] == quote["id"]
    assert pol["coverage"]["starts_at"] == "2026-11-25T02:20:00Z"
    status, again = api.post("/v1/policies", {"quote": quote["id"], "external_ref": "o-7b"})
    assert status == 400  # the quote was made for o-7
    status, again = api.post("/v1/policies", {"quote": quote["id"]})
    assert status == 409
    assert again["error"]["code"] in ("quote_already_used", "duplicate_external_ref")


def test_expired_quote_is_refused(api: ApiClient, clock: Clock) -> None:
    _, quote = api.post("/v1/quotes", {"product": "return_shipping", "risk": shipping_risk()})
    clock.advance(minutes=31)
    status, body = api.post("/v1/policies", {"quote": quote["id"], "external_ref": "o-1"})
    assert status == 422
    assert body["error"]["code"] == "quote_expired"


def test_quote_and_risk_together_are_refused(api: ApiClient) -> None:
    _, quote = api.post("/v1/quotes", {"product": "return_shipping", "risk": shipping_risk()})
    status, body = api.post("/v1/policies", {**shipping_policy(), "quote": quote["id"]})
    assert status == 400
    assert body["error"]["param"] == "quote"


def test_second_issue_for_the_same_external_ref_is_409_naming_the_policy(api: ApiClient) -> None:
    _, first = api.post("/v1/policies", shipping_policy("order-9"))
    status, body = api.post("/v1/policies", shipping_policy("order-9", category="shoes"))
    assert status == 409
    assert body["error"]["code"] == "duplicate_external_ref"
    assert body["error"]["policy"] == first["id"]
    assert first["id"] in body["error"]["message"]


def test_same_person_same_flight_is_refused_even_through_another_partner(
    api: ApiClient, other_api: ApiClient
) -> None:
    status, _ = api.post("/v1/policies", flight_policy("b-1"))
    assert status == 201
    status, body = other_api.post("/v1/policies", flight_policy("x-77"))
    assert status == 422
    assert body["error"]["code"] == "duplicate_cover"
    assert "pol_" not in body["error"]["message"]  # never reveal another partner's policy
    # another passenger on that flight is fine, and so is the same passenger on another day
    assert (
        other_api.post("/v1/policies", flight_policy("x-78", passenger(OTHER_RESIDENT_ID)))[0]
        == 201
    )
    later = flight_policy("x-79", scheduled_departure="2027-07-16T08:00:00+08:00")
    assert other_api.post("/v1/policies", later)[0] == 201


def test_same_order_cannot_be_covered_twice_across_partners(
    api: ApiClient, other_api: ApiClient
) -> None:
    assert api.post("/v1/policies", shipping_policy("TB-1001"))[0] == 201
    status, body = other_api.post("/v1/policies", shipping_policy("TB-1001"))
    assert status == 422
    assert body["error"]["code"] == "duplicate_cover"


def test_policyholder_rules(api: ApiClient) -> None:
    body = flight_policy()
    del body["policyholder"]
    status, err = api.post("/v1/policies", body)
    assert (status, err["error"]["param"]) == (400, "policyholder")
    bad_checksum = "110105194912310021"
    status, err = api.post("/v1/policies", flight_policy(holder=passenger(bad_checksum)))
    assert (status, err["error"]["param"]) == (400, "policyholder.id_number")
    assert bad_checksum not in str(err)  # never echoed
    passport = {
        "name": "John Smith",
        "id_type": "passport",
        "id_number": "E12345678",
        "phone": "+8613800138000",
    }
    status, pol = api.post("/v1/policies", flight_policy(holder=passport))
    assert status == 201
    assert pol["policyholder"]["id_last4"] == "5678"
    # return shipping may rely on the order alone
    assert api.post("/v1/policies", shipping_policy())[0] == 201


def test_external_ref_is_required_to_issue(api: ApiClient) -> None:
    body = shipping_policy()
    del body["external_ref"]
    status, err = api.post("/v1/policies", body)
    assert (status, err["error"]["param"]) == (400, "external_ref")


def test_ineligible_at_issue_time_is_422(api: ApiClient) -> None:
    status, err = api.post("/v1/policies", shipping_policy(category="virtual_goods"))
    assert status == 422
    assert err["error"]["reasons"][0]["code"] == "virtual_goods"


def test_get_and_list_with_filters_and_cursor(api: ApiClient) -> None:
    ids = [api.post("/v1/policies", shipping_policy(f"o-{i}"))[1]["id"] for i in range(5)]
    status, pol = api.get(f"/v1/policies/{ids[0]}")
    assert status == 200 and pol["external_ref"] == "o-0"
    status, page = api.get("/v1/policies", limit=2)
    assert status == 200
    assert [p["id"] for p in page["data"]] == ids[::-1][:2]
    assert page["has_more"] is True
    _, page2 = api.get("/v1/policies", limit=2, starting_after=page["data"][-1]["id"])
    assert [p["id"] for p in page2["data"]] == ids[::-1][2:4]
    _, last = api.get("/v1/policies", limit=2, starting_after=page2["data"][-1]["id"])
    assert [p["id"] for p in last["data"]] == [ids[0]] and last["has_more"] is False
    _, found = api.get("/v1/policies", external_ref="o-3")
    assert [p["id"] for p in found["data"]] == [ids[3]]
    _, by_product = api.get("/v1/policies", product="flight_delay")
    assert by_product["data"] == []
    status, err = api.get("/v1/policies", limit=1000)
    assert (status, err["error"]["param"]) == (400, "limit")
    status, err = api.get("/v1/policies", status="sleeping")
    assert (status, err["error"]["param"]) == (400, "status")


def test_cancel_before_cover_starts_refunds_in_full(api: ApiClient, engine: sa.Engine) -> None:
    _, pol = api.post("/v1/policies", flight_policy())
    status, cancelled = api.post(
        f"/v1/policies/{pol['id']}/cancel", {"reason": "requested_by_customer"}
    )
    assert status == 200, cancelled
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancellation"]["refund"] == {"amount": "19.10", "currency": "CNY"}
    assert cancelled["cancellation"]["reason"] == "requested_by_customer"
    with engine.connect() as conn:
        types = [
            e.type
            for e in conn.execute(
                sa.select(events.c.type)
                .where(events.c.object_id == pol["id"])
                .order_by(events.c.id)
            )
        ]
    assert types == ["policy.issued", "policy.cancelled"]
    # cancelling releases the cover: the passenger may buy again for that flight
    assert api.post("/v1/policies", flight_policy("booking-2"))[0] == 201


def test_cancel_after_delivery_refunds_nothing(api: ApiClient, clock: Clock) -> None:
    _, pol = api.post("/v1/policies", shipping_policy(delivery_date="2026-11-26"))
    clock.advance(days=2)
    _, cancelled = api.post(f"/v1/policies/{pol['id']}/cancel", {"reason": "other"})
    assert cancelled["cancellation"]["refund"] == {"amount": "0.00", "currency": "CNY"}


def test_cancel_twice_or_with_bad_reason(api: ApiClient) -> None:
    _, pol = api.post("/v1/policies", shipping_policy())
    status, err = api.post(f"/v1/policies/{pol['id']}/cancel", {"reason": "bored"})
    assert (status, err["error"]["param"]) == (400, "reason")
    assert api.post(f"/v1/policies/{pol['id']}/cancel", {"reason": "order_cancelled"})[0] == 200
    status, err = api.post(f"/v1/policies/{pol['id']}/cancel", {"reason": "order_cancelled"})
    assert status == 409
    assert err["error"]["code"] == "policy_cancelled"
    status, err = api.post("/v1/policies/pol_nope/cancel", {"reason": "other"})
    assert status == 404


def test_same_departure_in_another_offset_is_the_same_flight(
    api: ApiClient, other_api: ApiClient
) -> None:
    assert api.post("/v1/policies", flight_policy("b-1"))[0] == 201
    same_instant = flight_policy("x-1", scheduled_departure="2027-07-15T00:00:00Z")
    status, body = other_api.post("/v1/policies", same_instant)
    assert (status, body["error"]["code"]) == (422, "duplicate_cover")


def test_orders_are_named_by_marketplace_order_number_not_by_partner_ref(
    api: ApiClient, other_api: ApiClient
) -> None:
    assert api.post("/v1/policies", shipping_policy("order-77", order_id="A1"))[0] == 201
    # another partner's own "order-77" is another order
    assert other_api.post("/v1/policies", shipping_policy("order-77", order_id="B2"))[0] == 201
    # the same marketplace order through a third reference is refused
    status, body = other_api.post("/v1/policies", shipping_policy("mine-1", order_id="A1"))
    assert (status, body["error"]["code"]) == (422, "duplicate_cover")
    assert (
        other_api.post("/v1/policies", shipping_policy("mine-2", order_id="A1", platform="jd"))[0]
        == 201
    )
