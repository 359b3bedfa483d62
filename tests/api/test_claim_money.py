"""Money a claim must never leak: a loss paid before it can have happened, a cover paid
before it started, a refund after a payout, a higher tier never topped up, or topped up
twice. Each test is one of the defects found by trying the service as a new user would."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from policy_service.adapters.tables import claim_payouts, ledger_entries

from ..claims_helpers import Bearer, flight_status, provider_key, staff_token
from ..conftest import START, ApiClient, Clock, flight_policy, passenger

# A flight four hours after the tests' clock starts (START is 10:00 in Shanghai).
SOON = (START + timedelta(hours=4)).isoformat()


def _policy(api: ApiClient, ref: str = "booking-1", departure: str = SOON) -> dict:
    """A CZ3101 Guangzhou-Beijing passenger's policy."""
    body = flight_policy(ref, carrier="CZ", flight_number="CZ3101", origin="CAN")
    body["risk"]["scheduled_departure"] = departure
    status, policy = api.post("/v1/policies", body)
    assert status == 201, policy
    return policy


def _report(delay: int | None, status: str, departure: str, observed: datetime) -> dict:
    return flight_status(delay, status, "CZ3101", departure, observed.isoformat())


def _claims(api: ApiClient, policy_id: str) -> list[dict[str, Any]]:
    status, body = api.get("/v1/claims", policy=policy_id)
    assert status == 200
    return body["data"]


def _payouts(engine: sa.Engine, policy_id: str) -> list[int]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(ledger_entries.c.amount)
            .where(ledger_entries.c.policy_id == policy_id, ledger_entries.c.kind == "payout")
            .order_by(ledger_entries.c.id)
        )
        return [int(r[0]) for r in rows]


@pytest.fixture
def feed(app: Flask, engine: sa.Engine) -> Bearer:
    return Bearer(app.test_client(), provider_key(engine))


def test_a_delay_reported_before_it_can_have_happened_pays_nothing(
    api: ApiClient, feed: Bearer, engine: sa.Engine, clock: Clock
) -> None:
    far = "2027-07-15T08:00:00+08:00"
    policy = _policy(api, departure=far)
    # "delayed 245", observed today, for a flight next summer: not a fact yet
    status, early = feed.post("/v1/trigger-events", _report(245, "delayed", far, clock()))
    assert status == 201 and early["status"] == "premature", early
    assert early["event_time"] == "2027-07-15T04:05:00Z"  # departure + 245 min, in UTC
    assert "before the loss it reports can have happened" in early["result"]["reason"]
    assert _claims(api, policy["id"]) == [] and _payouts(engine, policy["id"]) == []
    # The same report, observed once the delay is a fact (the test clock simulates it)
    late = datetime.fromisoformat(far) + timedelta(minutes=250)
    status, applied = feed.post("/v1/trigger-events", _report(245, "delayed", far, late))
    assert status == 201 and applied["status"] == "processed"
    assert applied["result"]["paid"] == 1
    (claim,) = _claims(api, policy["id"])
    assert claim["event_time"] == "2027-07-15T04:05:00Z"


def test_a_cancellation_before_the_cover_started_pays_nothing(
    api: ApiClient, feed: Bearer, engine: sa.Engine, clock: Clock
) -> None:
    policy = _policy(api)
    assert policy["edition"]["id"] == "2026-11-25"  # whose cover starts at departure
    status, trigger = feed.post("/v1/trigger-events", _report(None, "cancelled", SOON, clock()))
    assert status == 201 and trigger["result"]["outside_cover"] == 1, trigger
    assert _claims(api, policy["id"]) == [] and _payouts(engine, policy["id"]) == []
    # Reported again after the departure it is still the cancellation announced before
    clock.advance(hours=5)
    again = _report(None, "cancelled", SOON, clock())
    assert feed.post("/v1/trigger-events", again)[1]["result"]["outside_cover"] == 1
    assert _payouts(engine, policy["id"]) == []


def test_nothing_is_refunded_after_a_payout(
    api: ApiClient, engine: sa.Engine, clock: Clock
) -> None:
    policy = _policy(api)
    # A test key simulates the delay once it is a fact, while the policy may still be
    # cancelled with a full refund by its rule (until two hours before departure).
    observed = datetime.fromisoformat(SOON) + timedelta(minutes=155)
    status, trigger = api.post("/v1/trigger-events", _report(150, "delayed", SOON, observed))
    assert status == 201 and trigger["result"]["paid"] == 1, trigger
    status, cancelled = api.post(f"/v1/policies/{policy['id']}/cancel", {"reason": "other"})
    assert status == 200, cancelled
    assert cancelled["cancellation"]["refund"] == {"amount": "0.00", "currency": "CNY"}
    with engine.connect() as conn:
        kinds = conn.execute(
            sa.select(ledger_entries.c.kind, ledger_entries.c.amount).where(
                ledger_entries.c.policy_id == policy["id"]
            )
        ).all()
    premium = int(policy["premium"]["total"]["amount"].replace(".", ""))
    assert sorted((k, int(a)) for k, a in kinds) == [("payout", -10000), ("premium", premium)]
    status, statement = api.get("/v1/statements", period="2026-11")
    (line,) = statement["lines"]
    assert line["refund"]["amount"] == "0.00" and line["payout"]["amount"] == "100.00"


def test_a_cancel_while_a_claim_is_in_review_is_refused_naming_it(
    api: ApiClient, engine: sa.Engine
) -> None:
    policy = _policy(api)
    body = {"policy": policy["id"], "type": "cancellation", "description": "airline letter"}
    status, claim = api.post("/v1/claims", body)
    assert status == 201 and claim["status"] == "in_review"
    status, refused = api.post(f"/v1/policies/{policy['id']}/cancel", {"reason": "other"})
    assert status == 409, refused
    assert refused["error"]["code"] == "claim_in_review"
    assert refused["error"]["claim"] == claim["id"] and claim["id"] in refused["error"]["message"]
    assert api.get(f"/v1/policies/{policy['id']}")[1]["status"] == "active"  # nothing changed


def test_a_higher_tier_later_is_topped_up_once_and_a_lower_one_claws_nothing_back(
    api: ApiClient, app: Flask, feed: Bearer, engine: sa.Engine, clock: Clock
) -> None:
    policy = _policy(api)
    start = datetime.fromisoformat(SOON)
    clock.advance(hours=10)
    feed.post("/v1/trigger-events", _report(130, "delayed", SOON, start + timedelta(minutes=135)))
    (claim,) = _claims(api, policy["id"])
    assert (claim["status"], claim["amount_paid"]["amount"]) == ("paid", "100.00")
    higher = _report(250, "departed", SOON, start + timedelta(minutes=255))
    status, topped = feed.post("/v1/trigger-events", higher)
    assert status == 201 and topped["result"]["topped_up"] == 1, topped
    (claim,) = _claims(api, policy["id"])
    assert claim["status"] == "paid" and claim["type"] == "delay_240"
    assert claim["amount_paid"] == {"amount": "300.00", "currency": "CNY"}
    assert claim["corrections"][-1]["top_up"] == {"amount": "200.00", "currency": "CNY"}
    assert _payouts(engine, policy["id"]) == [-10000, -20000]
    # the same report again, and a lower one later: nothing more, nothing back
    assert feed.post("/v1/trigger-events", higher)[0] == 200
    lower = _report(125, "arrived", SOON, start + timedelta(hours=6))
    assert feed.post("/v1/trigger-events", lower)[1]["result"]["corrected"] == 1
    assert _payouts(engine, policy["id"]) == [-10000, -20000]
    with engine.connect() as conn:
        sequences = conn.execute(
            sa.select(
                claim_payouts.c.sequence, claim_payouts.c.paid_before, claim_payouts.c.paid_after
            ).order_by(claim_payouts.c.sequence)
        ).all()
    assert [tuple(s) for s in sequences] == [(1, None, 10000), (2, 10000, 30000)]
    _, statement = api.get("/v1/statements", period="2026-11")
    assert statement["lines"][0]["payout"]["amount"] == "300.00"
    _, events = api.get("/v1/events", type="claim.topped_up")
    (event,) = events["data"]
    assert event["data"]["object"]["amount_paid"]["amount"] == "300.00"


def test_asking_for_information_tells_the_partner(
    app: Flask, api: ApiClient, engine: sa.Engine
) -> None:
    policy = _policy(api)
    body = {"policy": policy["id"], "type": "cancellation", "description": "airline letter"}
    _, claim = api.post("/v1/claims", body)
    reviewer = Bearer(app.test_client(), staff_token(engine, "li.na@ops.example", "reviewer"))
    status, _ = reviewer.post(
        f"/v1/ops/claims/{claim['id']}/request-info", {"reason": "send the airline's letter"}
    )
    assert status == 200
    _, events = api.get("/v1/events", type="claim.information_requested")
    (event,) = events["data"]
    assert event["data"]["object"]["id"] == claim["id"]
    assert event["data"]["object"]["review"]["information_requested_at"] is not None
    assert passenger()["name"] not in str(event)  # the event carries the claim, not the person


def test_nothing_is_refunded_after_people_paid_a_claim(
    app: Flask, api: ApiClient, engine: sa.Engine
) -> None:
    policy = _policy(api)
    body = {
        "policy": policy["id"],
        "type": "cancellation",
        "description": "the airline cancelled the flight",
        "amount_claimed": {"amount": "200.00", "currency": "CNY"},
    }
    _, claim = api.post("/v1/claims", body)
    approver = Bearer(app.test_client(), staff_token(engine, "zhao.min@ops.example", "approver"))
    status, paid = approver.post(f"/v1/ops/claims/{claim['id']}/approve", {"reason": "letter"})
    assert status == 200 and paid["status"] == "paid", paid
    # Four hours before departure the refund rule alone would refund the whole premium.
    status, cancelled = api.post(f"/v1/policies/{policy['id']}/cancel", {"reason": "other"})
    assert status == 200 and cancelled["cancellation"]["refund"]["amount"] == "0.00"
    assert _payouts(engine, policy["id"]) == [-20000]
