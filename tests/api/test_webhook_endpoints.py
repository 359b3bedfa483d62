"""Self-serve webhook endpoints and the events API."""

from __future__ import annotations

import sqlalchemy as sa

from policy_service.adapters.tables import idempotency_keys
from tests.conftest import ApiClient, Clock, add_key, shipping_policy


def _create(
    api: ApiClient, url: str = "http://127.0.0.1:9/hooks", events: list[str] | None = None
) -> dict:
    status, body = api.post("/v1/webhook-endpoints", {"url": url, "events": events or ["*"]})
    assert status == 201, body
    return body


def test_secret_is_shown_once(api: ApiClient) -> None:
    created = _create(api, events=["policy.issued", "policy.cancelled"])
    assert created["secret"].startswith("whsec_")
    assert created["status"] == "enabled"
    assert created["events"] == ["policy.issued", "policy.cancelled"]
    status, fetched = api.get(f"/v1/webhook-endpoints/{created['id']}")
    assert status == 200 and "secret" not in fetched
    _, listed = api.get("/v1/webhook-endpoints")
    assert [e["id"] for e in listed["data"]] == [created["id"]]
    assert "secret" not in listed["data"][0]


def test_update_disable_delete(api: ApiClient) -> None:
    created = _create(api)
    status, updated = api.post(
        f"/v1/webhook-endpoints/{created['id']}",
        {"url": "https://hooks.example.com/x", "events": ["policy.issued"]},
    )
    assert status == 200
    assert (updated["url"], updated["events"]) == ("https://hooks.example.com/x", ["policy.issued"])
    _, disabled = api.post(f"/v1/webhook-endpoints/{created['id']}", {"disabled": True})
    assert (disabled["status"], disabled["disabled_reason"]) == (
        "disabled",
        "disabled by the partner",
    )
    _, enabled = api.post(f"/v1/webhook-endpoints/{created['id']}", {"disabled": False})
    assert enabled["status"] == "enabled" and enabled["disabled_reason"] is None
    r = api.client.delete(
        f"/v1/webhook-endpoints/{created['id']}", headers={"Authorization": f"Bearer {api.key}"}
    )
    assert r.status_code == 200 and r.get_json()["deleted"] is True
    assert api.get(f"/v1/webhook-endpoints/{created['id']}")[0] == 404
    assert api.get("/v1/webhook-endpoints")[1]["data"] == []


def test_disabled_takes_only_true_or_false(api: ApiClient) -> None:
    created = _create(api)
    for loose in ("yes", "true", 1, 0, None):
        status, body = api.post(f"/v1/webhook-endpoints/{created['id']}", {"disabled": loose})
        assert status == 400, (loose, body)
        assert body["error"]["param"] == "disabled"
    assert api.get(f"/v1/webhook-endpoints/{created['id']}")[1]["status"] == "enabled"


def test_rotation_keeps_the_old_secret_for_a_day(api: ApiClient, clock: Clock) -> None:
    created = _create(api)
    status, rotated = api.post(f"/v1/webhook-endpoints/{created['id']}/rotate-secret", {})
    assert status == 200
    assert rotated["secret"] != created["secret"] and rotated["secret"].startswith("whsec_")
    assert rotated["previous_secret_expires_at"] == "2026-11-26T02:00:00Z"


def test_invalid_endpoints_name_the_field(api: ApiClient) -> None:
    for body, param in (
        ({"url": "ftp://x.example/", "events": ["*"]}, "url"),
        ({"url": "https://u:p@x.example/", "events": ["*"]}, "url"),
        ({"url": "https://x.example/", "events": []}, "events"),
        ({"url": "https://x.example/", "events": ["policy.eaten"]}, "events[0]"),
        ({"events": ["*"]}, "url"),
        ({"url": "http://[::1", "events": ["*"]}, "url"),
        ({"url": "http://169.254.169.254/latest", "events": ["*"]}, "url"),  # not even in test mode
    ):
        status, err = api.post("/v1/webhook-endpoints", body)
        assert (status, err["error"]["param"]) == (400, param), body


def test_live_mode_refuses_private_targets(api: ApiClient, engine: sa.Engine) -> None:
    live = ApiClient(
        api.client, add_key(engine, api.partner_id, live=True, scopes=("*",)), api.partner_id
    )
    for url in (
        "http://127.0.0.1:8080/h",
        "http://localhost/h",
        "http://10.0.0.5/h",
        "http://[::1]/h",
        "http://169.254.169.254/",
        # loopback spelt otherwise: delivery would read them as 127.0.0.1, so saving does
        "http://2130706433/h",
        "http://127.1/h",
        "http://0x7f000001/h",
        # a live endpoint's name is resolved when it is saved (no name resolves here)
        "https://hooks.example.invalid/h",
    ):
        status, err = live.post("/v1/webhook-endpoints", {"url": url, "events": ["*"]})
        assert (status, err["error"]["param"]) == (400, "url"), url
    status, _ = live.post(
        "/v1/webhook-endpoints", {"url": "https://93.184.215.14/h", "events": ["*"]}
    )
    assert status == 201
    # test mode may point at loopback, for local development, but not a private network
    assert (
        api.post("/v1/webhook-endpoints", {"url": "http://10.1.2.3/h", "events": ["*"]})[0] == 400
    )
    # test mode may point at loopback, for local development
    assert (
        api.post("/v1/webhook-endpoints", {"url": "http://127.0.0.1:8080/h", "events": ["*"]})[0]
        == 201
    )


def test_endpoints_and_events_are_per_partner(api: ApiClient, other_api: ApiClient) -> None:
    created = _create(api)
    _, pol = api.post("/v1/policies", shipping_policy())
    assert other_api.get(f"/v1/webhook-endpoints/{created['id']}")[0] == 404
    assert other_api.post(f"/v1/webhook-endpoints/{created['id']}/rotate-secret", {})[0] == 404
    _, evts = api.get("/v1/events")
    assert other_api.get(f"/v1/events/{evts['data'][0]['id']}")[0] == 404
    assert other_api.get("/v1/events")[1]["data"] == []
    assert pol["id"]


def test_events_list_filters_and_pages(api: ApiClient) -> None:
    pols = [api.post("/v1/policies", shipping_policy(f"o-{i}"))[1] for i in range(3)]
    api.post(f"/v1/policies/{pols[0]['id']}/cancel", {"reason": "other"})
    _, all_events = api.get("/v1/events")
    assert [e["type"] for e in all_events["data"]] == ["policy.cancelled"] + ["policy.issued"] * 3
    _, cancelled = api.get("/v1/events", type="policy.cancelled")
    assert [e["data"]["object"]["id"] for e in cancelled["data"]] == [pols[0]["id"]]
    assert cancelled["data"][0]["data"]["object"]["status"] == "cancelled"
    _, about = api.get("/v1/events", object=pols[0]["id"])
    assert [e["type"] for e in about["data"]] == ["policy.cancelled", "policy.issued"]
    _, page = api.get("/v1/events", limit=2)
    _, rest = api.get("/v1/events", limit=2, starting_after=page["data"][-1]["id"])
    assert page["has_more"] and not rest["has_more"]
    assert [e["id"] for e in page["data"] + rest["data"]] == [e["id"] for e in all_events["data"]]
    status, event = api.get(f"/v1/events/{all_events['data'][-1]['id']}")
    assert status == 200
    assert event["data"]["object"] == pols[0] | {}  # the policy exactly as issue returned it
    assert event["created"] == "2026-11-25T02:00:00Z"


def test_resend_needs_a_subscribed_endpoint(api: ApiClient) -> None:
    api.post("/v1/policies", shipping_policy())
    event_id = api.get("/v1/events")[1]["data"][0]["id"]
    status, err = api.post(f"/v1/events/{event_id}/resend", {})
    assert (status, err["error"]["param"]) == (400, "endpoint")
    endpoint = _create(api, events=["policy.issued"])
    status, deliveries = api.post(f"/v1/events/{event_id}/resend", {})
    assert status == 200
    [delivery] = deliveries["data"]
    assert (delivery["endpoint"], delivery["status"], delivery["attempts"]) == (
        endpoint["id"],
        "pending",
        [],
    )
    assert api.get(f"/v1/events/{event_id}/deliveries")[1]["data"] == deliveries["data"]


def test_the_secret_is_never_kept_in_an_idempotency_record(
    api: ApiClient, engine: sa.Engine
) -> None:
    body = {"url": "https://example.com/hooks", "events": ["policy.issued"]}
    status, created = api.post("/v1/webhook-endpoints", body, key="hook-1")
    assert status == 201 and created["secret"].startswith("whsec_")
    status, again = api.post("/v1/webhook-endpoints", body, key="hook-1")
    assert status == 201 and again["id"] == created["id"] and "secret" not in again
    status, rotated = api.post(
        f"/v1/webhook-endpoints/{created['id']}/rotate-secret", {}, key="rotate-1"
    )
    assert rotated["secret"].startswith("whsec_")
    with engine.connect() as conn:
        kept = [r for (r,) in conn.execute(sa.select(idempotency_keys.c.response_body))]
    assert kept and not any("whsec_" in str(r) for r in kept)


def test_an_endpoint_receives_only_events_after_it_was_created(
    api: ApiClient, engine: sa.Engine, clock: Clock
) -> None:
    from policy_service.adapters.tables import webhook_deliveries
    from policy_service.adapters.unit_of_work import SqlUnitOfWork
    from policy_service.services.delivery import dispatch_events

    status, before = api.post("/v1/policies", shipping_policy("before-endpoint"))
    assert status == 201  # its policy.issued waits to be fanned out: no worker ran yet
    clock.advance(minutes=1)
    _, endpoint = api.post(
        "/v1/webhook-endpoints", {"url": "https://93.184.215.14/h", "events": ["*"]}
    )
    clock.advance(minutes=1)
    status, after = api.post("/v1/policies", shipping_policy("after-endpoint"))
    assert status == 201
    dispatch_events(SqlUnitOfWork(engine), clock.now)
    with engine.connect() as conn:
        delivered = conn.execute(
            sa.select(webhook_deliveries.c.event_id).where(
                webhook_deliveries.c.endpoint_id == endpoint["id"]
            )
        ).all()
    _, listed = api.get("/v1/events", type="policy.issued")
    by_policy = {e["data"]["object"]["id"]: e["id"] for e in listed["data"]}
    assert [r.event_id for r in delivered] == [by_policy[after["id"]]]
    assert by_policy[before["id"]] not in {r.event_id for r in delivered}


def test_a_batch_fans_out_in_its_own_transaction(api: ApiClient, engine: sa.Engine) -> None:
    from policy_service.adapters.tables import events, webhook_deliveries

    _, endpoint = api.post(
        "/v1/webhook-endpoints", {"url": "https://93.184.215.14/h", "events": ["policy.issued"]}
    )
    items = [shipping_policy(f"fan-{i}") for i in range(250)]  # held and written together
    status, body = api.post("/v1/policies/batch", {"items": items})
    assert status == 200 and body["failed"] == 0
    with engine.connect() as conn:
        waiting = conn.execute(
            sa.select(sa.func.count()).select_from(events).where(events.c.dispatched_at.is_(None))
        ).scalar_one()
        fanned = conn.execute(
            sa.select(webhook_deliveries.c.event_id, webhook_deliveries.c.status).where(
                webhook_deliveries.c.endpoint_id == endpoint["id"]
            )
        ).all()
    assert waiting == 0
    assert len(fanned) == 250 and {s for _, s in fanned} == {"pending"}
    assert len({e for e, _ in fanned}) == 250
