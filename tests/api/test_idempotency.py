"""Idempotency-Key on every POST: replay, refusal of another body, business errors remembered."""

from __future__ import annotations

import sqlalchemy as sa

from policy_service.adapters.tables import policies, quotes
from policy_service.adapters.unit_of_work import SqlUnitOfWork
from tests.conftest import ApiClient, flight_policy, shipping_policy, shipping_risk


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_replay_returns_the_same_status_and_body(api: ApiClient, engine: sa.Engine) -> None:
    first = api.client.post(
        "/v1/policies",
        json=flight_policy(),
        headers={"Authorization": f"Bearer {api.key}", "Idempotency-Key": "abc"},
    )
    again = api.client.post(
        "/v1/policies",
        json=flight_policy(),
        headers={"Authorization": f"Bearer {api.key}", "Idempotency-Key": "abc"},
    )
    assert first.status_code == again.status_code == 201
    assert first.data == again.data
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _count(engine, policies) == 1


def test_same_key_with_another_body_is_refused(api: ApiClient, engine: sa.Engine) -> None:
    assert api.post("/v1/policies", shipping_policy("o-1"), key="k1")[0] == 201
    status, err = api.post("/v1/policies", shipping_policy("o-2"), key="k1")
    assert status == 400
    assert err["error"]["type"] == "idempotency_error"
    assert _count(engine, policies) == 1


def test_business_refusal_is_remembered(api: ApiClient) -> None:
    api.post("/v1/policies", shipping_policy("o-1"))
    status, first = api.post("/v1/policies", shipping_policy("o-1"), key="dup")
    assert status == 409
    status, again = api.post("/v1/policies", shipping_policy("o-1"), key="dup")
    assert (status, again) == (409, first)


def test_invalid_request_is_not_remembered_so_the_fixed_request_can_use_the_key(
    api: ApiClient,
) -> None:
    status, _ = api.post("/v1/policies", shipping_policy(category="cars"), key="fixme")
    assert status == 400
    assert api.post("/v1/policies", shipping_policy(), key="fixme")[0] == 201


def test_quotes_and_cancels_are_idempotent(api: ApiClient, engine: sa.Engine) -> None:
    body = {"product": "return_shipping", "risk": shipping_risk()}
    s1, q1 = api.post("/v1/quotes", body, key="q")
    s2, q2 = api.post("/v1/quotes", body, key="q")
    assert (s1, q1) == (s2, q2) and s1 == 201
    assert _count(engine, quotes) == 1
    _, pol = api.post("/v1/policies", shipping_policy())
    c1 = api.post(f"/v1/policies/{pol['id']}/cancel", {"reason": "other"}, key="c")
    c2 = api.post(f"/v1/policies/{pol['id']}/cancel", {"reason": "other"}, key="c")
    assert c1 == c2 and c1[0] == 200
    # without the key the second cancel is a conflict
    assert api.post(f"/v1/policies/{pol['id']}/cancel", {"reason": "other"})[0] == 409


def test_keys_are_per_partner(api: ApiClient, other_api: ApiClient) -> None:
    assert api.post("/v1/policies", shipping_policy("o-1"), key="same")[0] == 201
    status, pol = other_api.post("/v1/policies", shipping_policy("o-2"), key="same")
    assert status == 201 and pol["external_ref"] == "o-2"


def test_key_is_bounded(api: ApiClient) -> None:
    status, err = api.post("/v1/policies", shipping_policy(), key="x" * 256)
    assert (status, err["error"]["param"]) == (400, "Idempotency-Key")


def test_keys_are_forgotten_after_a_day(api: ApiClient, engine: sa.Engine, clock) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from policy_service.adapters.tables import idempotency_keys
    from policy_service.services.delivery import purge_idempotency_keys

    assert api.post("/v1/policies", shipping_policy("o-1"), key="old")[0] == 201
    assert purge_idempotency_keys(SqlUnitOfWork(engine), clock() - timedelta(hours=24)) == 0
    assert purge_idempotency_keys(SqlUnitOfWork(engine), clock() + timedelta(seconds=1)) == 1
    assert _count(engine, idempotency_keys) == 0
