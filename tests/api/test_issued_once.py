"""An issued policy's JSON is kept once: its row. Its Idempotency-Key, its policy.issued
event and a batch's own key name it, and whoever reads them gets the policy as it was
issued, byte for byte, whatever happened to it since; a direct issue's worksheet is given
again by its pinned edition."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from policy_service.adapters.tables import (
    cover_locks,
    events,
    idempotency_keys,
    ledger_entries,
    policies,
    policy_subjects,
)
from tests.conftest import ApiClient, Clock, flight_policy, shipping_policy, shipping_risk


def _raw_post(api: ApiClient, path: str, body: Any, key: str) -> tuple[int, bytes, str | None]:
    r = api.client.post(
        path, json=body, headers={"Authorization": f"Bearer {api.key}", "Idempotency-Key": key}
    )
    return r.status_code, r.data, r.headers.get("Idempotent-Replayed")


def _row(engine: sa.Engine, table: sa.Table, **where: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(table).where(*(table.c[k] == v for k, v in where.items()))
        ).one()


def test_the_rows_of_an_issue_keep_no_copy_of_the_policy(api: ApiClient, engine: sa.Engine) -> None:
    status, body, _ = _raw_post(api, "/v1/policies", flight_policy("slim-1"), "slim-1")
    assert status == 201
    policy_id = json.loads(body)["id"]
    key = _row(engine, idempotency_keys, key="slim-1")
    assert (key.response_body, key.policy_id) == (None, policy_id)
    assert _row(engine, events, object_id=policy_id).data is None
    assert _row(engine, policies, id=policy_id).worksheet is None


def test_a_replay_after_a_cancel_is_the_answer_as_sent(
    api: ApiClient, engine: sa.Engine, clock: Clock
) -> None:
    request = shipping_policy("slim-2")
    status, first, _ = _raw_post(api, "/v1/policies", request, "slim-2")
    assert status == 201
    policy_id = json.loads(first)["id"]
    clock.advance(hours=3)
    status, cancelled = api.post(f"/v1/policies/{policy_id}/cancel", {"reason": "order_cancelled"})
    assert status == 200 and cancelled["status"] == "cancelled"
    status, again, replayed = _raw_post(api, "/v1/policies", request, "slim-2")
    assert (status, again, replayed) == (201, first, "true")  # byte for byte


def test_the_issued_event_shows_the_policy_as_issued(
    api: ApiClient, engine: sa.Engine, clock: Clock
) -> None:
    _, pol = api.post("/v1/policies", shipping_policy("slim-3"))
    clock.advance(hours=1)
    api.post(f"/v1/policies/{pol['id']}/cancel", {"reason": "order_cancelled"})
    _, listed = api.get("/v1/events", object=pol["id"])
    by_type = {e["type"]: e["data"]["object"] for e in listed["data"]}
    assert by_type["policy.issued"] == pol
    assert by_type["policy.cancelled"]["status"] == "cancelled"
    [issued] = [e for e in listed["data"] if e["type"] == "policy.issued"]
    assert api.get(f"/v1/events/{issued['id']}")[1] == issued


def test_a_batch_key_replays_its_answer_byte_for_byte(api: ApiClient, clock: Clock) -> None:
    items = [shipping_policy(f"slim-b{i}") for i in range(3)]
    items.append({**shipping_policy("slim-bad"), "risk": shipping_risk(category="virtual_goods")})
    status, first, _ = _raw_post(api, "/v1/policies/batch", {"items": items}, "slim-batch")
    assert status == 200
    body = json.loads(first)
    assert [r["status"] for r in body["results"]] == [201, 201, 201, 422]
    clock.advance(hours=1)
    api.post(f"/v1/policies/{body['results'][0]['policy']['id']}/cancel", {"reason": "other"})
    status, again, replayed = _raw_post(api, "/v1/policies/batch", {"items": items}, "slim-batch")
    assert (status, again, replayed) == (200, first, "true")


def test_a_quoted_policy_shows_the_quotes_worksheet_again(
    api: ApiClient, engine: sa.Engine, clock: Clock
) -> None:
    _, quote = api.post("/v1/quotes", {"product": "return_shipping", "risk": shipping_risk()})
    clock.advance(minutes=20)  # issued later: the quote's pricing, the issue's cover
    status, pol = api.post("/v1/policies", {"quote": quote["id"], "external_ref": "slim-q"})
    assert status == 201
    assert _row(engine, policies, id=pol["id"]).worksheet is None
    assert pol["worksheet"]["quote"] == quote["id"]
    assert pol["worksheet"]["priced_at"] == quote["worksheet"]["priced_at"]
    assert pol["worksheet"]["steps"] == quote["worksheet"]["steps"]
    assert api.get(f"/v1/policies/{pol['id']}")[1] == pol


def test_a_worksheet_that_cannot_be_made_again_says_so(api: ApiClient, engine: sa.Engine) -> None:
    _, pol = api.post("/v1/policies", shipping_policy("slim-4"))
    # a premium the edition never gave (as if the row were edited by hand)
    with engine.begin() as conn:
        conn.execute(
            policies.update()
            .where(policies.c.id == pol["id"])
            .values(
                premium_total=policies.c.premium_total + 1, premium_net=policies.c.premium_net + 1
            )
        )
    _, again = api.get(f"/v1/policies/{pol['id']}")
    assert again["worksheet"]["unavailable"] == "the edition now gives another premium"
    assert again["worksheet"]["steps"] == []


def test_an_event_naming_a_policy_that_is_gone_says_so(api: ApiClient, engine: sa.Engine) -> None:
    # No policy is ever deleted today; should one be (an erasure), its event must not fail.
    _, pol = api.post("/v1/policies", shipping_policy("slim-gone"))
    with engine.begin() as conn:
        for table in (ledger_entries, cover_locks, policy_subjects):
            conn.execute(table.delete().where(table.c.policy_id == pol["id"]))
        conn.execute(policies.delete().where(policies.c.id == pol["id"]))
    status, listed = api.get("/v1/events", object=pol["id"])
    assert status == 200
    [event] = listed["data"]
    assert event["data"]["object"] == {"id": pol["id"], "object": "policy", "deleted": True}


def test_a_replay_of_an_issue_from_a_quote_is_the_answer_as_sent(
    api: ApiClient, clock: Clock
) -> None:
    _, quote = api.post("/v1/quotes", {"product": "return_shipping", "risk": shipping_risk()})
    clock.advance(minutes=5)
    request = {"quote": quote["id"], "external_ref": "slim-qr"}
    status, first, _ = _raw_post(api, "/v1/policies", request, "slim-qr")
    assert status == 201
    status, again, replayed = _raw_post(api, "/v1/policies", request, "slim-qr")
    assert (status, again, replayed) == (201, first, "true")  # byte for byte
