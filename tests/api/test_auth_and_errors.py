"""Keys, modes, tenants, and the one error shape."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.conftest import ApiClient, add_key, flight_policy, passenger, shipping_policy


def test_missing_and_wrong_keys_are_401(app: Flask) -> None:
    client = app.test_client()
    r = client.get("/v1/policies")
    assert r.status_code == 401
    assert r.get_json()["error"]["code"] == "missing_api_key"
    r = client.get("/v1/policies", headers={"Authorization": "Bearer sk_test_nope"})
    assert r.status_code == 401 and r.get_json()["error"]["type"] == "authentication_error"
    r = client.post("/v1/policies", data="{broken", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401  # authentication comes before the body


def test_another_partners_policy_is_404(api: ApiClient, other_api: ApiClient) -> None:
    _, pol = api.post("/v1/policies", shipping_policy())
    assert other_api.get(f"/v1/policies/{pol['id']}")[0] == 404
    assert other_api.post(f"/v1/policies/{pol['id']}/cancel", {"reason": "other"})[0] == 404
    assert other_api.get("/v1/policies")[1]["data"] == []
    _, quote = api.post(
        "/v1/quotes", {"product": "return_shipping", "risk": shipping_policy()["risk"]}
    )
    status, err = other_api.post("/v1/policies", {"quote": quote["id"], "external_ref": "x"})
    assert status == 404 and err["error"]["param"] == "quote"


def test_test_keys_never_see_live_data(api: ApiClient, engine: sa.Engine) -> None:
    live = ApiClient(api.client, add_key(engine, api.partner_id, live=True), api.partner_id)
    status, live_pol = live.post("/v1/policies", shipping_policy("live-1"))
    assert status == 201 and live_pol["livemode"] is True
    _, test_pol = api.post("/v1/policies", shipping_policy("test-1"))
    assert test_pol["livemode"] is False
    assert api.get(f"/v1/policies/{live_pol['id']}")[0] == 404
    assert [p["id"] for p in api.get("/v1/policies")[1]["data"]] == [test_pol["id"]]
    assert [p["id"] for p in live.get("/v1/policies")[1]["data"]] == [live_pol["id"]]
    # the same external_ref may exist once per mode
    assert api.post("/v1/policies", shipping_policy("live-1"))[0] == 201


def test_scopes_are_enforced(api: ApiClient, engine: sa.Engine) -> None:
    reader = ApiClient(
        api.client, add_key(engine, api.partner_id, False, ("policies:read",)), api.partner_id
    )
    assert reader.get("/v1/policies")[0] == 200
    status, err = reader.post("/v1/policies", shipping_policy())
    assert status == 403 and err["error"]["type"] == "permission_error"


def test_malformed_bodies_get_the_error_shape(api: ApiClient) -> None:
    auth = {"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"}
    r = api.client.post("/v1/policies", data="{broken", headers=auth)
    assert r.status_code == 400
    assert r.get_json()["error"]["code"] == "invalid_json"
    r = api.client.post("/v1/policies/batch", data="x" * (3 * 1024 * 1024), headers=auth)
    assert r.status_code == 413
    assert r.get_json()["error"]["code"] == "payload_too_large"
    r = api.client.get("/v1/nothing", headers=auth)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "unknown_endpoint"
    r = api.client.delete("/v1/policies", headers=auth)
    assert r.status_code == 405 and "error" in r.get_json()
    r = api.client.post("/v1/quotes", json=[1, 2], headers=auth)
    assert r.status_code == 400 and "error" in r.get_json()


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (shipping_policy(order_value={"amount": 10**30, "currency": "CNY"}), "risk.order_value"),
        (shipping_policy(delivery_date="9999-12-30"), "risk.delivery_date"),
        (
            flight_policy(scheduled_departure="9999-12-31T08:00:00+00:00"),
            "risk.scheduled_departure",
        ),
        (shipping_policy("ord\x00er"), "external_ref"),
        (shipping_policy("ord\ud800er"), "external_ref"),
        (
            flight_policy(holder={**passenger(), "phone": "+123456789012345\n"}),
            "policyholder.phone",
        ),
        (
            flight_policy(holder=passenger("１１０１０５１９４９１２３１００２X")),
            "policyholder.id_number",
        ),
        (flight_policy(flight_number="MU5101\n"), "risk.flight_number"),
        (flight_policy(carrier="MU\n"), "risk.carrier"),
        (shipping_policy(order_value={"amount": "１２.00", "currency": "CNY"}), "risk.order_value"),
    ],
)
def test_hostile_input_is_a_400_naming_the_field(api: ApiClient, body: dict, param: str) -> None:
    raw = json.dumps(body)  # ensure_ascii keeps lone surrogates as escapes
    r = api.client.post(
        "/v1/policies",
        data=raw,
        headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"},
    )
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["error"]["param"] == param


def test_hostile_query_and_null_batch_items(api: ApiClient) -> None:
    status, err = api.get("/v1/policies", external_ref="a\x00b")
    assert (status, err["error"]["param"]) == (400, "external_ref")
    status, body = api.post("/v1/policies/batch", {"items": [None, shipping_policy()]})
    assert status == 200
    assert [r["status"] for r in body["results"]] == [400, 201]
