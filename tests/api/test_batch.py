"""POST /v1/policies/batch: one result per item, valid items issued when others fail."""

from __future__ import annotations

import sqlalchemy as sa

from policy_service.adapters.tables import events, policies
from tests.conftest import ApiClient, flight_policy, shipping_policy


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_mixed_batch_issues_the_valid_items(api: ApiClient, engine: sa.Engine) -> None:
    api.post("/v1/policies", shipping_policy("taken"))
    items = [
        shipping_policy("b-0"),
        shipping_policy("b-1", category="cars"),  # invalid input
        shipping_policy("b-2", category="virtual_goods"),  # ineligible
        shipping_policy("taken"),  # external_ref used before
        flight_policy("b-4"),
        shipping_policy("b-0"),  # twice in this batch
        "not an object",
    ]
    status, body = api.post("/v1/policies/batch", {"items": items})
    assert status == 200
    results = body["results"]
    assert [r["status"] for r in results] == [201, 400, 422, 409, 201, 409, 400]
    assert results[1]["error"]["param"] == "items[1].risk.category"
    assert results[2]["error"]["reasons"][0]["code"] == "virtual_goods"
    assert results[3]["error"]["code"] == "duplicate_external_ref"
    assert results[5]["error"]["param"] == "items[5].external_ref"
    assert results[0]["policy"]["external_ref"] == "b-0"
    assert (body["issued"], body["failed"]) == (2, 5)
    assert _count(engine, policies) == 3
    assert _count(engine, events) == 3


def test_items_with_their_own_keys_replay(api: ApiClient, engine: sa.Engine) -> None:
    items = [{**shipping_policy(f"k-{i}"), "idempotency_key": f"item-{i}"} for i in range(3)]
    _, first = api.post("/v1/policies/batch", {"items": items})
    _, again = api.post("/v1/policies/batch", {"items": items})
    assert [r["status"] for r in again["results"]] == [201, 201, 201]
    assert all(r["replayed"] for r in again["results"])
    assert [r["policy"] for r in again["results"]] == [r["policy"] for r in first["results"]]
    assert _count(engine, policies) == 3
    # an item key is the same key as a single POST /v1/policies with that body
    status, single = api.post("/v1/policies", shipping_policy("k-0"), key="item-0")
    assert status == 201 and single == first["results"][0]["policy"]
    # the same key with another body fails that item only
    items[1] = {**shipping_policy("k-other"), "idempotency_key": "item-1"}
    _, mixed = api.post("/v1/policies/batch", {"items": items})
    assert [r["status"] for r in mixed["results"]] == [201, 400, 201]
    assert mixed["results"][1]["error"]["type"] == "idempotency_error"


def test_a_duplicated_item_key_fails_the_second_item(api: ApiClient) -> None:
    items = [
        {**shipping_policy("a"), "idempotency_key": "k"},
        {**shipping_policy("b"), "idempotency_key": "k"},
    ]
    _, body = api.post("/v1/policies/batch", {"items": items})
    assert [r["status"] for r in body["results"]] == [201, 400]


def test_the_batch_key_replays_the_whole_answer(api: ApiClient, engine: sa.Engine) -> None:
    items = [shipping_policy(f"w-{i}") for i in range(4)]
    first = api.post("/v1/policies/batch", {"items": items}, key="batch-1")
    again = api.post("/v1/policies/batch", {"items": items}, key="batch-1")
    assert first == again
    assert _count(engine, policies) == 4


def test_batch_size_is_bounded(api: ApiClient) -> None:
    assert api.post("/v1/policies/batch", {"items": []})[0] == 400
    status, err = api.post(
        "/v1/policies/batch", {"items": [shipping_policy(f"o{i}") for i in range(1001)]}
    )
    assert (status, err["error"]["param"]) == (400, "items")


def test_a_thousand_items_in_one_request(api: ApiClient, engine: sa.Engine) -> None:
    items = [shipping_policy(f"bulk-{i}") for i in range(1000)]
    status, body = api.post("/v1/policies/batch", {"items": items})
    assert status == 200
    assert body["issued"] == 1000
    assert _count(engine, policies) == 1000


def test_batch_key_and_item_keys_do_not_collide(api: ApiClient, engine: sa.Engine) -> None:
    items = [{**shipping_policy("c-1"), "idempotency_key": "SAME"}]
    status, body = api.post("/v1/policies/batch", {"items": items}, key="SAME")
    assert status == 200 and body["issued"] == 1
    assert api.post("/v1/policies/batch", {"items": items}, key="SAME") == (200, body)
    status, other = api.post("/v1/policies/batch", {"items": [shipping_policy("c-2")]}, key="SAME")
    assert status == 400 and other["error"]["type"] == "idempotency_error"
    assert _count(engine, policies) == 1
