"""Endorsing a stripe-billed policy against a real Stripe-compatible peer (localstripe): a
dearer change is charged before it is made, a cheaper one refunded after, a declined card
changes nothing, and a change that can no longer be made when its charge lands gives the
charge back. The product and the changes are read from products/
(tests/endorsement_helpers.py). Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from policy_service.services import payment_settling
from tests.conftest import ApiClient, Clock, make_partner, passenger
from tests.endorsement_helpers import CASE, EDITION, PRODUCT, priced_change
from tests.payment_peer import FaultProxy, intents_for, ledger_of, payment_method, peer_get

DECLINED = "4000000000000341"  # attaches, then every charge is declined


def _issue(shop: ApiClient, peer: str, clock: Clock, ref: str) -> dict[str, Any]:
    clock.now = CASE.quoted_at.astimezone(UTC)
    body: dict[str, Any] = {
        "product": PRODUCT.code,
        "external_ref": ref,
        "risk": EDITION.inputs.to_json(EDITION.inputs.parse(CASE.risk)),
        "payment_method": payment_method(peer),
    }
    if PRODUCT.policyholder == "required":
        body["policyholder"] = passenger()
    status, policy = shop.post("/v1/policies", body, key=f"issue-{ref}")
    assert status == 201, policy
    return policy


def _minor(amount: Decimal) -> int:
    return int(amount * 100)


def _refunds(peer: str, policy_id: str) -> list[tuple[int, str, str]]:
    data = peer_get(peer, "/v1/refunds?limit=100")["data"]
    return [
        (r["amount"], r["status"], r["metadata"].get("kind"))
        for r in data
        if r.get("metadata", {}).get("policy") == policy_id
    ]


def test_a_dearer_change_is_charged_in_the_peer_then_made(
    shop: ApiClient, peer: str, engine: sa.Engine, clock: Clock
) -> None:
    policy = _issue(shop, peer, clock, "dearer-1")
    change, difference = priced_change(dearer=True)
    path = f"/v1/policies/{policy['id']}/endorsements"
    status, endorsed = shop.post(path, {"risk": change}, key="end-1")
    assert status == 201, endorsed
    assert Decimal(endorsed["premium_difference"]["amount"]) == difference
    assert endorsed["policy"]["version"] == 2
    # the premium in the peer, then the difference: each charged once
    premium = _minor(Decimal(policy["premium"]["total"]["amount"]))
    intents = intents_for(peer, policy["id"])
    assert sorted((i["amount"], i["status"]) for i in intents) == sorted(
        [(premium, "succeeded"), (_minor(difference), "succeeded")]
    )
    assert ledger_of(engine, policy["id"]) == [
        ("premium", premium, "us"),
        ("endorsement", _minor(difference), "us"),
    ]
    # a retry replays the answer and charges nothing more
    assert shop.post(path, {"risk": change}, key="end-1") == (201, endorsed)
    assert len(intents_for(peer, policy["id"])) == 2
    # no key: refused before anything is charged
    status, err = shop.post(path, {"risk": change})
    assert (status, err["error"]["param"]) == (400, "Idempotency-Key")


def test_a_cheaper_change_is_made_then_refunded_in_the_peer(
    shop: ApiClient, peer: str, engine: sa.Engine, clock: Clock
) -> None:
    policy = _issue(shop, peer, clock, "cheaper-1")
    change, difference = priced_change(dearer=False)
    path = f"/v1/policies/{policy['id']}/endorsements"
    status, endorsed = shop.post(path, {"risk": change}, key="end-2")
    assert status == 201, endorsed
    assert Decimal(endorsed["premium_difference"]["amount"]) == difference < 0
    assert _refunds(peer, policy["id"]) == [(-_minor(difference), "succeeded", "endorsement")]
    assert len(intents_for(peer, policy["id"])) == 1  # nothing more charged
    premium = _minor(Decimal(policy["premium"]["total"]["amount"]))
    assert ledger_of(engine, policy["id"]) == [
        ("premium", premium, "us"),
        ("endorsement", _minor(difference), "us"),
    ]
    # a card is taken only when the change raises the premium
    status, err = shop.post(
        path, {"policyholder": {"name": "Li Lei"}, "payment_method": "pm_x"}, key="end-3"
    )
    assert (status, err["error"]["param"]) == (400, "payment_method"), err


def test_a_declined_card_changes_nothing(
    shop: ApiClient, peer: str, engine: sa.Engine, clock: Clock
) -> None:
    policy = _issue(shop, peer, clock, "declined-1")
    change, _ = priced_change(dearer=True)
    path = f"/v1/policies/{policy['id']}/endorsements"
    body = {"risk": change, "payment_method": payment_method(peer, DECLINED)}
    status, err = shop.post(path, body, key="end-4")
    assert status == 402, err
    assert err["error"]["decline_code"] == "card_declined"
    assert "unchanged" in err["error"]["message"]
    assert shop.get(f"/v1/policies/{policy['id']}")[1] == policy
    assert shop.get(path)[1]["data"] == []
    assert [e[0] for e in ledger_of(engine, policy["id"])] == ["premium"]
    assert shop.post(path, body, key="end-4") == (402, err)  # the answer is kept
    # another card, another key: made
    body["payment_method"] = payment_method(peer)
    assert shop.post(path, body, key="end-5")[0] == 201


def test_the_peer_down_then_back_charges_once(
    stripe_app: Flask,
    shop: ApiClient,
    peer: str,
    proxy: FaultProxy,
    engine: sa.Engine,
    clock: Clock,
) -> None:
    policy = _issue(shop, peer, clock, "outage-1")
    change, difference = priced_change(dearer=True)
    path = f"/v1/policies/{policy['id']}/endorsements"
    proxy.mode = "swallow:/confirm"  # the peer charges the card; we never hear back
    stripe_app.extensions["policy_service"].gateway.session.close()  # no kept-alive bypass
    status, err = shop.post(path, {"risk": change}, key="end-6")
    assert status == 503, (status, err)
    assert err["error"]["code"] == "payment_service_unavailable"
    assert "unchanged" in err["error"]["message"]
    assert shop.get(f"/v1/policies/{policy['id']}")[1]["version"] == 1  # not made yet
    proxy.mode = "pass"
    status, endorsed = shop.post(path, {"risk": change}, key="end-6")
    assert status == 201, endorsed
    premium = _minor(Decimal(policy["premium"]["total"]["amount"]))
    charged = [i["amount"] for i in intents_for(peer, policy["id"]) if i["status"] == "succeeded"]
    assert sorted(charged) == sorted([premium, _minor(difference)])  # the difference once
    kinds = [e[0] for e in ledger_of(engine, policy["id"])]
    assert kinds == ["premium", "endorsement"]


def test_a_change_too_late_when_its_charge_lands_gives_the_charge_back(
    stripe_app: Flask,
    shop: ApiClient,
    peer: str,
    proxy: FaultProxy,
    engine: sa.Engine,
    clock: Clock,
) -> None:
    policy = _issue(shop, peer, clock, "late-1")
    change, difference = priced_change(dearer=True)
    path = f"/v1/policies/{policy['id']}/endorsements"
    proxy.mode = "swallow:/confirm"
    stripe_app.extensions["policy_service"].gateway.session.close()
    status, _ = shop.post(path, {"risk": change}, key="end-7")
    assert status == 503
    proxy.mode = "pass"
    # Nobody retries; the worker settles the charge when the product no longer lets the
    # policy change (its deadline: at cover start at the latest).
    clock.now = _after_deadline(policy)
    billing = stripe_app.extensions["policy_service"].billing()
    assert payment_settling.reconcile(billing, clock()) >= 1
    assert shop.get(f"/v1/policies/{policy['id']}")[1]["version"] == 1
    assert _refunds(peer, policy["id"]) == [(_minor(difference), "succeeded", "returned")]
    assert [e[0] for e in ledger_of(engine, policy["id"])] == ["premium"]
    # the partner's retry is told why, with the product's code
    status, err = shop.post(path, {"risk": change}, key="end-7")
    assert status == 422, err
    codes = {r.code for r in PRODUCT.endorsements.refuse} if PRODUCT.endorsements else set()
    assert err["error"]["code"] in codes


def _after_deadline(policy: dict[str, Any]) -> datetime:
    """A time at which the product's refusal rules refuse any change: cover start."""
    return datetime.fromisoformat(policy["coverage"]["starts_at"]) + timedelta(minutes=1)


def test_a_policy_sold_before_the_partner_took_cards_stays_partner_settled(
    stripe_app: Flask, peer: str, engine: sa.Engine, clock: Clock
) -> None:
    from policy_service.adapters.tables import partners

    partner_id, key = make_partner(engine, "Switched", billing="partner_settled")
    shop = ApiClient(stripe_app.test_client(), key, partner_id)
    clock.now = CASE.quoted_at.astimezone(UTC)
    body: dict[str, Any] = {
        "product": PRODUCT.code,
        "external_ref": "switched-1",
        "risk": EDITION.inputs.to_json(EDITION.inputs.parse(CASE.risk)),
    }
    if PRODUCT.policyholder == "required":
        body["policyholder"] = passenger()
    status, policy = shop.post("/v1/policies", body)
    assert status == 201, policy
    with engine.begin() as conn:  # the operator moves the partner to card payments
        conn.execute(
            partners.update().where(partners.c.id == partner_id).values(billing_mode="stripe")
        )
    stripe_app.extensions["policy_service"].authenticator._cache.clear()  # seen at once
    status, err = shop.post(f"/v1/policies/{policy['id']}/endorsements", {"risk": {}})
    assert (status, err["error"]["param"]) == (400, "Idempotency-Key")  # a stripe caller now
    change, difference = priced_change(dearer=True)
    path = f"/v1/policies/{policy['id']}/endorsements"
    status, endorsed = shop.post(path, {"risk": change}, key="end-8")
    assert status == 201, endorsed
    assert intents_for(peer, policy["id"]) == []  # its partner collected it: nothing charged
    premium = _minor(Decimal(policy["premium"]["total"]["amount"]))
    assert ledger_of(engine, policy["id"]) == [
        ("premium", premium, "partner"),
        ("endorsement", _minor(difference), "partner"),
    ]


def test_a_cancellation_after_a_dearer_change_is_refunded_on_both_charges(
    shop: ApiClient, peer: str, engine: sa.Engine, clock: Clock
) -> None:
    policy = _issue(shop, peer, clock, "both-1")
    change, _ = priced_change(dearer=True)
    status, endorsed = shop.post(
        f"/v1/policies/{policy['id']}/endorsements", {"risk": change}, key="end-9"
    )
    assert status == 201, endorsed
    status, cancelled = shop.post(
        f"/v1/policies/{policy['id']}/cancel", {"reason": "requested_by_customer"}
    )
    assert status == 200, cancelled
    refund = _minor(Decimal(cancelled["cancellation"]["refund"]["amount"]))
    assert refund > _minor(Decimal(policy["premium"]["total"]["amount"]))  # more than 1 charge
    # each charge gives back at most what it took, the latest first; together the refund
    back = {}
    for intent in intents_for(peer, policy["id"]):
        found = peer_get(peer, f"/v1/refunds?payment_intent={intent['id']}")["data"]
        back[intent["id"]] = sum(r["amount"] for r in found if r["status"] == "succeeded")
        assert back[intent["id"]] <= intent["amount"]
    assert sum(back.values()) == refund
    assert ledger_of(engine, policy["id"])[-1] == ("refund", -refund, "us")


def test_a_returned_charge_is_never_given_up(
    stripe_app: Flask,
    shop: ApiClient,
    peer: str,
    proxy: FaultProxy,
    engine: sa.Engine,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A returned charge was never booked: were its refund given up, the money would stay
    with us and on no book. A cancellation's refund gives up after MAX_REFUND_ATTEMPTS;
    this one is tried again until the payment API takes it."""
    from policy_service.adapters.stripe_gateway import PaymentRejected
    from policy_service.adapters.tables import refunds
    from policy_service.services.refunds import MAX_REFUND_ATTEMPTS, refund_now

    policy = _issue(shop, peer, clock, "never-1")
    change, difference = priced_change(dearer=True)
    svc = stripe_app.extensions["policy_service"]
    proxy.mode = "swallow:/confirm"
    svc.gateway.session.close()
    assert (
        shop.post(f"/v1/policies/{policy['id']}/endorsements", {"risk": change}, key="e")[0] == 503
    )
    proxy.mode = "pass"
    svc.gateway.session.close()

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise PaymentRejected("the card account is closed", 400)

    monkeypatch.setattr(svc.gateway, "create_refund", refused)  # the peer says no, always
    clock.now = _after_deadline(policy)
    billing = svc.billing()
    payment_settling.reconcile(billing, clock())  # charged, too late: to be given back
    with engine.connect() as conn:
        [back] = conn.execute(sa.select(refunds).where(refunds.c.policy_id == policy["id"]))
    assert (back.kind, back.status, back.amount) == ("returned", "pending", _minor(difference))
    for _ in range(MAX_REFUND_ATTEMPTS + 3):
        assert refund_now(billing, back.id, clock()) == "pending"
    monkeypatch.undo()  # the peer takes it at last
    assert refund_now(billing, back.id, clock()) == "succeeded"
    assert _refunds(peer, policy["id"]) == [(_minor(difference), "succeeded", "returned")]


def test_a_refund_whose_answer_is_lost_is_sent_once(
    stripe_app: Flask,
    shop: ApiClient,
    peer: str,
    proxy: FaultProxy,
    engine: sa.Engine,
    clock: Clock,
) -> None:
    """The peer refunds but its answer is lost; the worker's retries look before they send
    (localstripe, like Stripe after a day, does not hold the Idempotency-Key): a cheaper
    change's refund and a cancellation's each reach the card once. Found by the state
    machine of test_stripe_money.py."""
    policy = _issue(shop, peer, clock, "lost-1")
    change, difference = priced_change(dearer=False)
    svc = stripe_app.extensions["policy_service"]
    billing = svc.billing()
    proxy.mode = "swallow:/v1/refunds"  # taken by the peer, never answered
    svc.gateway.session.close()
    status, _ = shop.post(f"/v1/policies/{policy['id']}/endorsements", {"risk": change}, key="l")
    assert status == 201
    status, cancelled = shop.post(
        f"/v1/policies/{policy['id']}/cancel", {"reason": "requested_by_customer"}
    )
    assert status == 200
    proxy.mode = "pass"
    svc.gateway.session.close()
    for _ in range(3):  # the worker, again and again
        clock.advance(minutes=2)
        payment_settling.reconcile(billing, clock())
    back = sorted(_refunds(peer, policy["id"]))
    refund = _minor(Decimal(cancelled["cancellation"]["refund"]["amount"]))
    assert back == sorted(
        [(-_minor(difference), "succeeded", "endorsement"), (refund, "succeeded", "premium")]
    )
    assert [e[0] for e in ledger_of(engine, policy["id"])] == ["premium", "endorsement", "refund"]
