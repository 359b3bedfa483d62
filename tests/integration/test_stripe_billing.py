"""Stripe billing against a real Stripe-compatible peer (localstripe), with the network
between us and the peer cut on purpose. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import requests
import sqlalchemy as sa
from flask import Flask

from policy_service.adapters.tables import policies
from policy_service.services import payment_settling, payments
from tests.conftest import ApiClient, Clock, flight_policy
from tests.payment_peer import (
    FaultProxy,
    intents_for,
    ledger_of,
    payment_method,
    peer_get,
)

DECLINED = "4000000000000341"  # attaches, then every charge is declined


def _issue(
    shop: ApiClient, pm: str, ref: str = "booking-1", key: str | None = "k1"
) -> tuple[int, dict]:
    return shop.post("/v1/policies", {**flight_policy(ref), "payment_method": pm}, key=key)


def test_a_good_card_activates_the_policy_once(
    shop: ApiClient, peer: str, engine: sa.Engine
) -> None:
    pm = payment_method(peer)
    status, pol = _issue(shop, pm)
    assert status == 201, pol
    assert pol["status"] == "active"
    intent = peer_get(peer, f"/v1/payment_intents/{pol['payment_intent']}")
    assert (intent["status"], intent["amount"], intent["currency"]) == ("succeeded", 1910, "cny")
    assert intent["metadata"]["policy"] == pol["id"]
    # the same request again: the same answer, and no second charge
    again = _issue(shop, pm)
    assert again == (201, pol)
    assert len(intents_for(peer, pol["id"])) == 1
    assert ledger_of(engine, pol["id"]) == [("premium", 1910, "us")]
    _, evts = shop.get("/v1/events", object=pol["id"])
    assert [e["type"] for e in evts["data"]] == ["policy.issued"]


def test_a_declined_card_leaves_no_active_policy(
    shop: ApiClient, peer: str, engine: sa.Engine
) -> None:
    declined = payment_method(peer, DECLINED)
    status, err = _issue(shop, declined)
    assert status == 402
    assert err["error"]["type"] == "card_error"
    assert err["error"]["decline_code"] == "card_declined"
    policy_id = err["error"]["policy"]
    assert shop.get(f"/v1/policies/{policy_id}")[1]["status"] == "payment_failed"
    assert ledger_of(engine, policy_id) == []
    # the stored answer is replayed, and the order can be insured with another card
    assert _issue(shop, declined) == (402, err)
    status, pol = _issue(shop, payment_method(peer), key="k2")
    assert status == 201 and pol["status"] == "active"


def test_payment_method_rules(shop: ApiClient, api: ApiClient, peer: str) -> None:
    status, err = shop.post("/v1/policies", flight_policy())
    assert (status, err["error"]["param"]) == (400, "Idempotency-Key")
    status, err = shop.post("/v1/policies", flight_policy(), key="no-card")
    assert (status, err["error"]["param"]) == (400, "payment_method")
    status, err = api.post(
        "/v1/policies", {**flight_policy(), "payment_method": payment_method(peer)}
    )
    assert (status, err["error"]["param"]) == (
        400,
        "payment_method",
    )  # partner-settled: not charged here
    status, err = shop.post("/v1/policies/batch", {"items": [flight_policy()]})
    assert (status, err["error"]["code"]) == (400, "batch_not_available")


def test_cancel_refunds_through_the_peer(shop: ApiClient, peer: str, engine: sa.Engine) -> None:
    _, pol = _issue(shop, payment_method(peer))
    status, cancelled = shop.post(
        f"/v1/policies/{pol['id']}/cancel", {"reason": "requested_by_customer"}
    )
    assert status == 200
    assert cancelled["cancellation"]["refund"] == {"amount": "19.10", "currency": "CNY"}
    refunds = peer_get(peer, "/v1/refunds?limit=100")["data"]
    mine = [r for r in refunds if r.get("metadata", {}).get("policy") == pol["id"]]
    assert [(r["amount"], r["status"]) for r in mine] == [(1910, "succeeded")]
    assert ledger_of(engine, pol["id"]) == [("premium", 1910, "us"), ("refund", -1910, "us")]


def test_the_peer_down_then_back(
    shop: ApiClient, peer: str, proxy: FaultProxy, engine: sa.Engine
) -> None:
    pm = payment_method(peer)
    proxy.mode = "refuse"
    status, err = _issue(shop, pm)
    assert status == 503
    assert err["error"]["code"] == "payment_service_unavailable"
    policy_id = err["error"]["policy"]
    assert shop.get(f"/v1/policies/{policy_id}")[1]["status"] == "pending_payment"
    assert intents_for(peer, policy_id) == []  # nothing charged
    proxy.mode = "pass"
    status, pol = _issue(shop, pm)  # the partner retries with the same key
    assert status == 201 and pol["id"] == policy_id and pol["status"] == "active"
    assert [i["status"] for i in intents_for(peer, policy_id)] == ["succeeded"]
    assert ledger_of(engine, policy_id) == [("premium", 1910, "us")]


def test_an_answer_lost_after_the_charge(
    shop: ApiClient, peer: str, proxy: FaultProxy, engine: sa.Engine
) -> None:
    pm = payment_method(peer)
    proxy.mode = "swallow:/confirm"  # the peer charges the card; we never hear back
    status, err = _issue(shop, pm)
    assert status == 503
    policy_id = err["error"]["policy"]
    assert [i["status"] for i in intents_for(peer, policy_id)] == ["succeeded"]  # charged...
    assert (
        shop.get(f"/v1/policies/{policy_id}")[1]["status"] == "pending_payment"
    )  # ...not yet active
    proxy.mode = "pass"
    status, pol = _issue(shop, pm)
    assert status == 201 and pol["status"] == "active"
    assert len(intents_for(peer, policy_id)) == 1  # activated, not charged twice
    assert ledger_of(engine, policy_id) == [("premium", 1910, "us")]


def test_the_worker_settles_what_nobody_retried(
    stripe_app: Flask,
    shop: ApiClient,
    peer: str,
    proxy: FaultProxy,
    engine: sa.Engine,
    clock: Clock,
) -> None:
    pm = payment_method(peer)
    proxy.mode = "swallow:/confirm"
    _, err = _issue(shop, pm)
    policy_id = err["error"]["policy"]
    proxy.mode = "pass"
    billing = stripe_app.extensions["policy_service"].billing()
    clock.advance(minutes=2)
    assert payment_settling.reconcile(billing, clock()) >= 1
    assert shop.get(f"/v1/policies/{policy_id}")[1]["status"] == "active"
    # and the partner's retry now replays the final answer
    status, pol = _issue(shop, pm)
    assert status == 201 and pol["id"] == policy_id


def test_the_worker_gives_up_an_unconfirmed_payment(
    stripe_app: Flask, shop: ApiClient, peer: str, proxy: FaultProxy, clock: Clock
) -> None:
    proxy.mode = "swallow:/v1/payment_intents"  # created (harmless), never confirmed
    _, err = _issue(shop, payment_method(peer))
    policy_id = err["error"]["policy"]
    proxy.mode = "pass"
    billing = stripe_app.extensions["policy_service"].billing()
    clock.advance(minutes=61)
    payment_settling.reconcile(billing, clock())
    assert shop.get(f"/v1/policies/{policy_id}")[1]["status"] == "payment_failed"
    assert all(i["status"] != "succeeded" for i in intents_for(peer, policy_id))


def test_stripe_webhooks_are_verified_and_deduplicated(
    shop: ApiClient, peer: str, proxy: FaultProxy, stripe_app: Flask
) -> None:
    import json
    import time

    from policy_service.domain.signatures import signature_header

    proxy.mode = "swallow:/confirm"
    _, err = _issue(shop, payment_method(peer))
    policy_id = err["error"]["policy"]
    [intent] = intents_for(peer, policy_id)
    event = {"id": "evt_stripe_1", "type": "payment_intent.succeeded", "data": {"object": intent}}
    body = json.dumps(event).encode()
    client = stripe_app.test_client()
    bad = client.post("/v1/stripe/webhooks", data=body, headers={"Stripe-Signature": "t=1,v1=00"})
    assert bad.status_code == 401
    assert shop.get(f"/v1/policies/{policy_id}")[1]["status"] == "pending_payment"
    header = signature_header(["whsec_test"], int(time.time()), body)
    first = client.post("/v1/stripe/webhooks", data=body, headers={"Stripe-Signature": header})
    assert first.status_code == 200 and first.get_json()["result"] == "settled"
    assert shop.get(f"/v1/policies/{policy_id}")[1]["status"] == "active"
    again = client.post("/v1/stripe/webhooks", data=body, headers={"Stripe-Signature": header})
    assert again.get_json()["duplicate"] is True


def test_webhooks_from_the_peer_itself(
    shop: ApiClient,
    peer: str,
    proxy: FaultProxy,
    stripe_app: Flask,
    tmp_path: Path,
    engine: sa.Engine,
) -> None:
    """localstripe posts payment_intent.succeeded to our endpoint over HTTP."""
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = make_server("127.0.0.1", 0, stripe_app, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/v1/stripe/webhooks"
        requests.post(
            f"{peer}/_config/webhooks/ours",
            json={"url": url, "secret": "whsec_test", "events": ["payment_intent.succeeded"]},
            timeout=5,
        ).raise_for_status()
        proxy.mode = "swallow:/confirm"
        _, err = _issue(shop, payment_method(peer))
        policy_id = err["error"]["policy"]
        import time

        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                status = conn.execute(
                    sa.select(policies.c.status).where(policies.c.id == policy_id)
                ).scalar()
            if status == "active":
                break
            time.sleep(0.2)
        assert status == "active"
    finally:
        server.shutdown()
        server.server_close()


def _signed(body: bytes) -> dict[str, str]:
    import time

    from policy_service.domain.signatures import signature_header

    return {"Stripe-Signature": signature_header(["whsec_test"], int(time.time()), body)}


def test_a_charge_that_lands_after_a_give_up_is_refunded(
    shop: ApiClient, peer: str, proxy: FaultProxy, stripe_app: Flask, engine: sa.Engine
) -> None:
    import json

    from policy_service.adapters.stripe_gateway import PaymentDeclined

    proxy.mode = "swallow:/confirm"  # the card is charged, we never hear back
    _, err = _issue(shop, payment_method(peer))
    policy_id = err["error"]["policy"]
    proxy.mode = "pass"
    billing = stripe_app.extensions["policy_service"].billing()
    with engine.connect() as conn:
        payment_id = conn.execute(
            sa.text("select id from payments where policy_id = :p"), {"p": policy_id}
        ).scalar()
    # a give-up raced the charge and was recorded first
    payments.finish(
        billing,
        payment_id,
        None,
        clock_now(),
        declined=PaymentDeclined("never completed", "abandoned", None),
    )
    [intent] = intents_for(peer, policy_id)
    body = json.dumps(
        {"id": "evt_late", "type": "payment_intent.succeeded", "data": {"object": intent}}
    ).encode()
    r = stripe_app.test_client().post("/v1/stripe/webhooks", data=body, headers=_signed(body))
    assert r.status_code == 200
    assert (
        shop.get(f"/v1/policies/{policy_id}")[1]["status"] == "payment_failed"
    )  # never in force...
    refunds = [
        r
        for r in peer_get(peer, "/v1/refunds?limit=100")["data"]
        if r["metadata"].get("policy") == policy_id
    ]
    assert [(r["amount"], r["status"]) for r in refunds] == [
        (1910, "succeeded")
    ]  # ...and paid back
    assert ledger_of(engine, policy_id) == [("premium", 1910, "us"), ("refund", -1910, "us")]


def clock_now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_a_retry_resumes_even_when_the_request_would_now_be_refused(
    shop: ApiClient, peer: str, proxy: FaultProxy, clock: Clock
) -> None:
    from datetime import UTC, datetime

    pm = payment_method(peer)
    soon = {
        **flight_policy("b-soon", scheduled_departure="2026-11-25T13:00:00+08:00"),
        "payment_method": pm,
    }
    proxy.mode = "refuse"
    status, _err = shop.post("/v1/policies", soon, key="soon")
    assert status == 503
    proxy.mode = "pass"
    clock.now = datetime(2026, 11, 25, 4, 30, tzinfo=UTC)  # 30 minutes before departure now
    status, pol = shop.post("/v1/policies", soon, key="soon")
    assert status == 201 and pol["status"] == "active"  # the sale was made before the cut-off


def test_malformed_stripe_events_are_refused_and_not_remembered(stripe_app: Flask) -> None:
    import json

    client = stripe_app.test_client()
    body = json.dumps(
        {"id": "evt_bad", "type": "payment_intent.succeeded", "data": "oops"}
    ).encode()
    r = client.post("/v1/stripe/webhooks", data=body, headers=_signed(body))
    assert r.status_code == 400
    good = json.dumps(
        {"id": "evt_bad", "type": "charge.updated", "data": {"object": {"id": "ch_1"}}}
    ).encode()
    r = client.post("/v1/stripe/webhooks", data=good, headers=_signed(good))
    assert r.get_json() == {"received": True, "result": "ignored"}  # not taken for a duplicate


# -- claim payouts --------------------------------------------------------------------------


def test_a_claim_is_paid_back_through_the_peer_once(
    stripe_app: Flask,
    shop: ApiClient,
    peer: str,
    proxy: FaultProxy,
    engine: sa.Engine,
    clock: Clock,
) -> None:
    from policy_service.services import payouts
    from tests.claims_helpers import DEPARTURE, Bearer, flight_status, provider_key

    pm = payment_method(peer)
    status, pol = shop.post(
        "/v1/policies",
        {**flight_policy("booking-9", scheduled_departure=DEPARTURE), "payment_method": pm},
        key="k-claim",
    )
    assert status == 201, pol
    clock.advance(hours=27)
    feed = Bearer(stripe_app.test_client(), provider_key(engine))
    status, trigger = feed.post("/v1/trigger-events", flight_status(245))
    assert status == 201 and trigger["result"]["approved"] == 1
    (claim,) = shop.get("/v1/claims", policy=pol["id"])[1]["data"]
    assert claim["status"] == "approved"  # the payout is the worker's to send

    svc = stripe_app.extensions["policy_service"]
    proxy.mode = "refuse"  # the peer is down: the payout waits and is retried
    svc.gateway.session.close()  # no kept-alive connection slips past the fault
    assert payouts.send_pending(svc.claims(), svc.gateway, clock()) == 1
    assert shop.get(f"/v1/claims/{claim['id']}")[1]["status"] == "approved"
    proxy.mode = "swallow:/v1/refunds"  # the peer pays, but its answer is lost
    svc.gateway.session.close()
    clock.advance(minutes=5)  # past the back-off
    assert payouts.send_pending(svc.claims(), svc.gateway, clock()) == 1
    assert shop.get(f"/v1/claims/{claim['id']}")[1]["status"] == "approved"
    proxy.mode = "pass"
    svc.gateway.session.close()
    clock.advance(minutes=5)
    assert payouts.send_pending(svc.claims(), svc.gateway, clock()) == 1
    paid = shop.get(f"/v1/claims/{claim['id']}")[1]
    assert paid["status"] == "paid" and paid["amount_paid"]["amount"] == "300.00"
    # One refund in the peer for the claim, whatever was retried; none pending any more.
    refunds = peer_get(peer, f"/v1/refunds?payment_intent={pol['payment_intent']}")["data"]
    mine = [r for r in refunds if r["metadata"].get("claim") == claim["id"]]
    assert [(r["amount"], r["status"]) for r in mine] == [(30000, "succeeded")]
    assert payouts.send_pending(svc.claims(), svc.gateway, clock()) == 0
    assert ("payout", -30000, "us") in ledger_of(engine, pol["id"])
    _, evts = shop.get("/v1/events", object=claim["id"])
    assert evts["data"][0]["type"] == "claim.paid"


def test_a_top_up_is_a_second_payment_through_the_peer(
    stripe_app: Flask, shop: ApiClient, peer: str, engine: sa.Engine, clock: Clock
) -> None:
    from policy_service.services import payouts
    from tests.claims_helpers import DEPARTURE, Bearer, flight_status, provider_key

    pm = payment_method(peer)
    status, pol = shop.post(
        "/v1/policies",
        {**flight_policy("booking-7", scheduled_departure=DEPARTURE), "payment_method": pm},
        key="k-top-up",
    )
    assert status == 201, pol
    clock.advance(hours=27)
    feed = Bearer(stripe_app.test_client(), provider_key(engine))
    svc = stripe_app.extensions["policy_service"]
    feed.post("/v1/trigger-events", flight_status(130, observed_at="2026-11-26T02:20:00+00:00"))
    assert payouts.send_pending(svc.claims(), svc.gateway, clock()) == 1
    (claim,) = shop.get("/v1/claims", policy=pol["id"])[1]["data"]
    assert (claim["status"], claim["amount_paid"]["amount"]) == ("paid", "100.00")
    # the delay grows past the higher tier: 200.00 more, for the worker to send
    status, trigger = feed.post("/v1/trigger-events", flight_status(250))
    assert status == 201 and trigger["result"]["topped_up"] == 1, trigger
    claim = shop.get(f"/v1/claims/{claim['id']}")[1]
    assert claim["status"] == "approved" and claim["amount_approved"]["amount"] == "300.00"
    assert claim["amount_paid"]["amount"] == "100.00"
    assert payouts.send_pending(svc.claims(), svc.gateway, clock()) == 1
    claim = shop.get(f"/v1/claims/{claim['id']}")[1]
    assert claim["status"] == "paid" and claim["amount_paid"]["amount"] == "300.00"
    refunds = peer_get(peer, f"/v1/refunds?payment_intent={pol['payment_intent']}")["data"]
    mine = sorted(r["amount"] for r in refunds if r["metadata"].get("claim") == claim["id"])
    assert mine == [10000, 20000]
    assert [e for e in ledger_of(engine, pol["id"]) if e[0] == "payout"] == [
        ("payout", -10000, "us"),
        ("payout", -20000, "us"),
    ]
    assert payouts.send_pending(svc.claims(), svc.gateway, clock()) == 0


def test_a_refused_payout_fails_and_can_be_sent_again(
    stripe_app: Flask,
    shop: ApiClient,
    peer: str,
    engine: sa.Engine,
    clock: Clock,
) -> None:
    from policy_service.adapters.tables import policies as P
    from policy_service.services import payouts
    from tests.claims_helpers import DEPARTURE, Bearer, flight_status, provider_key, staff_token

    pm = payment_method(peer)
    _, pol = shop.post(
        "/v1/policies",
        {**flight_policy("booking-8", scheduled_departure=DEPARTURE), "payment_method": pm},
        key="k-claim-2",
    )
    real_intent = pol["payment_intent"]
    with engine.begin() as conn:  # a PaymentIntent the peer does not know: refused (404)
        conn.execute(P.update().where(P.c.id == pol["id"]).values(payment_intent="pi_unknown"))
    clock.advance(hours=27)
    Bearer(stripe_app.test_client(), provider_key(engine)).post(
        "/v1/trigger-events", flight_status(245)
    )
    svc = stripe_app.extensions["policy_service"]
    payouts.send_pending(svc.claims(), svc.gateway, clock())
    (claim,) = shop.get("/v1/claims", policy=pol["id"])[1]["data"]
    assert claim["status"] == "payout_failed"
    _, evts = shop.get("/v1/events", object=claim["id"], type="claim.payout_failed")
    assert len(evts["data"]) == 1

    with engine.begin() as conn:
        conn.execute(P.update().where(P.c.id == pol["id"]).values(payment_intent=real_intent))
    ops = Bearer(stripe_app.test_client(), staff_token(engine, "ops@example.com", "approver"))
    status, retried = ops.post(f"/v1/ops/claims/{claim['id']}/retry-payout")
    assert status == 200 and retried["status"] == "payout_failed"
    payouts.send_pending(svc.claims(), svc.gateway, clock())
    assert shop.get(f"/v1/claims/{claim['id']}")[1]["status"] == "paid"
