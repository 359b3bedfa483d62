"""Claims end to end: one flight report settling thousands of policies (PostgreSQL), posted
twice at once and corrected; claim events delivered to a real receiver by a real worker."""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa
from flask import Flask

from policy_service.adapters.tables import claim_audit, claims, ledger_entries, trigger_events
from policy_service.domain.signatures import HEADER, verify
from tests.claims_helpers import DEPARTURE, Bearer, flight_status, provider_key, resident_id
from tests.conftest import ApiClient, Clock, database_url, flight_policy, passenger
from tests.webhook_receiver import receiver

from .test_webhooks import start_worker  # noqa: F401 - the fixture

#: PostgreSQL carries the acceptance figure; SQLite runs the same test smaller.
POLICIES = 2000 if database_url() else 200


def _issue_many(api: ApiClient, n: int) -> list[str]:
    ids: list[str] = []
    for start in range(0, n, 1000):
        items = [
            flight_policy(
                f"booking-{i}", holder=passenger(resident_id(i)), scheduled_departure=DEPARTURE
            )
            for i in range(start, min(n, start + 1000))
        ]
        status, body = api.post("/v1/policies/batch", {"items": items})
        assert status == 200 and body["failed"] == 0, body["results"][:1]
        ids += [r["policy"]["id"] for r in body["results"]]
    return ids


def test_one_report_settles_every_policy_on_the_flight_exactly_once(
    app: Flask, api: ApiClient, engine: sa.Engine, clock: Clock
) -> None:
    _issue_many(api, POLICIES)
    clock.advance(hours=27)
    key = provider_key(engine)
    answers: list[tuple[int, Any]] = []

    def post() -> None:
        answers.append(
            Bearer(app.test_client(), key).post("/v1/trigger-events", flight_status(245))
        )

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(status for status, _ in answers) == [200, 201]
    assert answers[0][1]["id"] == answers[1][1]["id"]
    (first,) = [body for status, body in answers if status == 201]
    assert first["result"]["matched"] == POLICIES and first["result"]["paid"] == POLICIES

    # A correction lowers the delay to the lower tier: nothing more is paid.
    feed = Bearer(app.test_client(), key)
    status, corrected = feed.post(
        "/v1/trigger-events", flight_status(150, observed_at="2026-11-26T06:00:00+00:00")
    )
    assert status == 201 and corrected["result"]["claims_created"] == 0
    assert corrected["result"]["matched"] == POLICIES

    with engine.connect() as conn:
        paid = conn.execute(
            sa.select(
                claims.c.status, claims.c.type, sa.func.count(), sa.func.sum(claims.c.amount_paid)
            ).group_by(claims.c.status, claims.c.type)
        ).all()
        payouts = conn.execute(
            sa.select(sa.func.count(), sa.func.sum(ledger_entries.c.amount)).where(
                ledger_entries.c.kind == "payout"
            )
        ).one()
        per_policy = conn.execute(
            sa.select(sa.func.count(sa.distinct(claims.c.policy_id)))
        ).scalar()
        audit_rows = conn.execute(sa.select(sa.func.count()).select_from(claim_audit)).scalar()
        reports = conn.execute(sa.select(sa.func.count()).select_from(trigger_events)).scalar()
    assert [tuple(r) for r in paid] == [("paid", "delay_240", POLICIES, POLICIES * 30000)]
    assert tuple(payouts) == (POLICIES, -POLICIES * 30000)
    assert per_policy == POLICIES
    # submit, approve and pay for each, and one note per policy for the correction
    assert audit_rows == 4 * POLICIES
    assert reports == 2


def test_claim_events_reach_a_webhook_receiver(
    app: Flask,
    api: ApiClient,
    engine: sa.Engine,
    clock: Clock,
    start_worker,  # noqa: F811
) -> None:
    with receiver() as rx:
        status, endpoint = api.post(
            "/v1/webhook-endpoints",
            {"url": rx.url, "events": ["claim.created", "claim.approved", "claim.paid"]},
        )
        assert status == 201
        api.post(
            "/v1/policies",
            flight_policy(
                "booking-1", holder=passenger(resident_id(1)), scheduled_departure=DEPARTURE
            ),
        )
        clock.advance(hours=27)
        Bearer(app.test_client(), provider_key(engine)).post(
            "/v1/trigger-events", flight_status(245)
        )
        start_worker()
        rx.wait_for(lambda r: len(r.received) >= 3)
        types = sorted(g.event["type"] for g in rx.received)
        assert types == ["claim.approved", "claim.created", "claim.paid"]
        for got in rx.received:
            verify(got.body, got.headers[HEADER], endpoint["secret"])
            assert got.event["data"]["object"]["object"] == "claim"
        paid = next(g.event for g in rx.received if g.event["type"] == "claim.paid")
        assert paid["data"]["object"]["amount_paid"] == {"amount": "300.00", "currency": "CNY"}
