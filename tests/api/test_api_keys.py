"""A partner's API keys over their life, with a keys:admin key: create with scopes (the
secret once), list (hints only), revoke (refused by every process within a second),
rotate (the old key works through the overlap, then not)."""

from __future__ import annotations

import time

import sqlalchemy as sa

from policy_service.adapters.tables import idempotency_keys
from tests.conftest import ApiClient, Clock, add_key


def _as(api: ApiClient, key: str) -> ApiClient:
    return ApiClient(api.client, key, api.partner_id)


def test_a_key_with_scopes_does_only_that(api: ApiClient, engine: sa.Engine) -> None:
    status, created = api.post(
        "/v1/api-keys", {"scopes": ["products:read", "quotes:write"]}, key="new-key-1"
    )
    assert status == 201 and created["secret"].startswith("sk_test_")
    assert created["scopes"] == ["products:read", "quotes:write"] and created["status"] == "active"
    narrow = _as(api, created["secret"])
    assert narrow.get("/v1/products")[0] == 200
    status, denied = narrow.get("/v1/policies")
    assert status == 403 and "policies:read" in denied["error"]["message"]
    assert narrow.get("/v1/api-keys")[0] == 403  # it may not manage keys

    _, again = api.post(
        "/v1/api-keys", {"scopes": ["products:read", "quotes:write"]}, key="new-key-1"
    )
    assert again["id"] == created["id"] and "secret" not in again
    with engine.connect() as conn:
        kept = [str(r) for (r,) in conn.execute(sa.select(idempotency_keys.c.response_body))]
    assert not any(created["secret"] in r for r in kept)

    status, listed = api.get("/v1/api-keys")
    assert status == 200
    assert created["id"] in {k["id"] for k in listed["data"]}
    assert all("secret" not in k and k["hint"].startswith("sk_test_") for k in listed["data"])


def test_unknown_scopes_are_refused(api: ApiClient) -> None:
    status, body = api.post("/v1/api-keys", {"scopes": ["everything"]})
    assert status == 400 and body["error"]["param"].startswith("scopes")


def test_a_scope_named_many_times_is_held_once(api: ApiClient) -> None:
    """The fuzzer's case: every scope, each many times (a 500 on PostgreSQL once)."""
    from policy_service.domain.records import ALL_SCOPES

    status, created = api.post("/v1/api-keys", {"scopes": [*ALL_SCOPES, "*"] * 8})
    assert status == 201, created
    assert sorted(created["scopes"]) == sorted({*ALL_SCOPES, "*"})


def test_a_revoked_key_is_refused_within_a_second(api: ApiClient) -> None:
    _, created = api.post("/v1/api-keys", {})
    doomed = _as(api, created["secret"])
    assert doomed.get("/v1/products")[0] == 200  # now cached by this process
    status, revoked = api.post(f"/v1/api-keys/{created['id']}/revoke", {})
    assert status == 200 and revoked["status"] == "revoked"
    time.sleep(1.1)  # API_KEY_CACHE_SECONDS: the cache every process keeps
    status, body = doomed.get("/v1/products")
    assert status == 401 and body["error"]["type"] == "authentication_error"


def test_rotation_keeps_the_old_key_through_the_overlap(api: ApiClient, clock: Clock) -> None:
    _, first = api.post("/v1/api-keys", {"scopes": ["products:read"]})
    status, second = api.post(f"/v1/api-keys/{first['id']}/rotate", {"overlap_hours": 2})
    assert status == 201 and second["scopes"] == ["products:read"]
    old, new = _as(api, first["secret"]), _as(api, second["secret"])
    assert old.get("/v1/products")[0] == 200 and new.get("/v1/products")[0] == 200
    listed = {k["id"]: k for k in api.get("/v1/api-keys")[1]["data"]}
    assert listed[first["id"]]["status"] == "expiring"
    clock.advance(hours=2, seconds=1)
    time.sleep(1.1)
    assert old.get("/v1/products")[0] == 401
    assert new.get("/v1/products")[0] == 200
    status, body = api.post(f"/v1/api-keys/{first['id']}/rotate", {})
    assert status == 409 and body["error"]["code"] == "key_revoked"


def test_keys_of_another_mode_or_partner_are_not_found(
    api: ApiClient, engine: sa.Engine, other_api: ApiClient
) -> None:
    live_key = add_key(engine, api.partner_id, live=True)
    _, created = api.post("/v1/api-keys", {})
    assert other_api.post(f"/v1/api-keys/{created['id']}/revoke", {})[0] == 404
    live = _as(api, live_key)
    assert live.post(f"/v1/api-keys/{created['id']}/revoke", {})[0] == 404
    assert created["id"] not in {k["id"] for k in live.get("/v1/api-keys")[1]["data"]}
