"""Claims: decided from trigger events, filed by partners, reviewed by staff, paid."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from policy_service.adapters import held_inserts
from policy_service.adapters.tables import claim_audit, ledger_entries

from ..claims_helpers import (
    DEPARTURE,
    Bearer,
    flight_status,
    provider_key,
    resident_id,
    shipment_return,
    staff_token,
)
from ..conftest import ApiClient, Clock, add_key, flight_policy, passenger, shipping_policy


@pytest.fixture
def feed(app: Flask, engine: sa.Engine) -> Bearer:
    """A data provider's test-mode key (it sees every partner's test policies)."""
    return Bearer(app.test_client(), provider_key(engine))


def _flight_policies(api: ApiClient, n: int, start: int = 0, **risk: Any) -> list[str]:
    ids = []
    for i in range(start, start + n):
        body = flight_policy(
            f"booking-{i}", holder=passenger(resident_id(i)), scheduled_departure=DEPARTURE, **risk
        )
        status, pol = api.post("/v1/policies", body)
        assert status == 201, pol
        ids.append(pol["id"])
    return ids


def _claims_of(api: ApiClient, policy_id: str) -> list[dict[str, Any]]:
    status, body = api.get("/v1/claims", policy=policy_id)
    assert status == 200
    return body["data"]


# -- flight.status ------------------------------------------------------------------------


def test_a_long_delay_settles_every_policy_on_the_flight_once(
    api: ApiClient, other_api: ApiClient, feed: Bearer, engine: sa.Engine, clock: Clock
) -> None:
    mine = _flight_policies(api, 3)
    theirs = _flight_policies(other_api, 1, start=10)
    (other_flight,) = _flight_policies(api, 1, start=20, flight_number="MU5102")
    clock.advance(hours=27)  # the flight has left

    status, trigger = feed.post("/v1/trigger-events", flight_status(245))
    assert status == 201, trigger
    assert trigger["status"] == "processed"
    assert trigger["result"]["matched"] == 4
    assert trigger["result"]["paid"] == 4

    for policy_id in mine:
        (claim,) = _claims_of(api, policy_id)
        assert claim["status"] == "paid"
        assert claim["type"] == "delay_240"
        assert claim["amount_paid"] == {"amount": "300.00", "currency": "CNY"}
        ev = claim["evaluation"]
        assert ev["rule"] == "delay_240" and ev["result"] == "pays"
        assert ev["edition"] == "2026-11-25" and ev["content_hash"].startswith("sha256:")
        assert ev["trigger_data"]["delay_minutes"] == 245
        checked = {c["rule"]: c for c in ev["rules_checked"]}
        assert checked["cancellation"]["holds"] is False
        assert checked["delay_240"]["values"]["delay_minutes"] == 245
    # Across partners: the other partner's passenger is paid too, and sees only its own claim.
    (their_claim,) = _claims_of(other_api, theirs[0])
    assert their_claim["status"] == "paid"
    assert _claims_of(api, other_flight) == []
    assert api.get(f"/v1/claims/{their_claim['id']}")[0] == 404

    # The same report again: the same event, nothing new.
    status, again = feed.post("/v1/trigger-events", flight_status(245))
    assert status == 200 and again["id"] == trigger["id"]
    # A correction lowers the delay: nothing is paid twice, nothing clawed back.
    status, corrected = feed.post(
        "/v1/trigger-events", flight_status(190, observed_at="2026-11-26T06:00:00+00:00")
    )
    assert status == 201 and corrected["result"]["claims_created"] == 0
    for policy_id in mine:
        (claim,) = _claims_of(api, policy_id)
        assert claim["status"] == "paid" and claim["amount_paid"]["amount"] == "300.00"
        assert [c["amount"] for c in claim["corrections"]] == [
            {"amount": "100.00", "currency": "CNY"}
        ]
    with engine.connect() as conn:
        payouts = conn.execute(
            sa.select(sa.func.count(), sa.func.sum(ledger_entries.c.amount)).where(
                ledger_entries.c.kind == "payout"
            )
        ).one()
    assert tuple(payouts) == (4, -4 * 30000)


def test_a_short_delay_pays_nothing(api: ApiClient, feed: Bearer, clock: Clock) -> None:
    (policy_id,) = _flight_policies(api, 1)
    clock.advance(hours=27)
    status, trigger = feed.post("/v1/trigger-events", flight_status(30))
    assert status == 201
    assert trigger["result"]["matched"] == 1 and trigger["result"]["not_covered"] == 1
    assert _claims_of(api, policy_id) == []


def test_tiers_and_cancellation(api: ApiClient, feed: Bearer, clock: Clock) -> None:
    (p120,) = _flight_policies(api, 1, start=0, flight_number="MU1000")
    (p_cancel,) = _flight_policies(api, 1, start=1, flight_number="MU2000")
    clock.advance(hours=27)
    feed.post("/v1/trigger-events", flight_status(120, flight="MU1000"))
    feed.post("/v1/trigger-events", flight_status(None, status="cancelled", flight="MU2000"))
    assert _claims_of(api, p120)[0]["amount_paid"]["amount"] == "100.00"
    assert _claims_of(api, p_cancel)[0]["type"] == "cancellation"
    assert _claims_of(api, p_cancel)[0]["amount_paid"]["amount"] == "200.00"


def test_an_older_report_arriving_late_changes_nothing(
    api: ApiClient, feed: Bearer, clock: Clock
) -> None:
    (policy_id,) = _flight_policies(api, 1)
    clock.advance(hours=27)
    feed.post("/v1/trigger-events", flight_status(30, observed_at="2026-11-26T04:00:00+00:00"))
    status, late = feed.post(
        "/v1/trigger-events", flight_status(245, observed_at="2026-11-26T01:00:00+00:00")
    )
    assert status == 201 and late["status"] == "superseded"
    assert _claims_of(api, policy_id) == []


def test_a_policy_bought_after_the_delay_was_reported_goes_to_review(
    api: ApiClient, feed: Bearer, clock: Clock
) -> None:
    clock.advance(hours=10)  # issued at 12:00Z, an hour after the airline announced a delay
    status, announced = feed.post(
        "/v1/trigger-events", flight_status(245, observed_at="2026-11-25T11:00:00+00:00")
    )
    assert status == 201 and announced["status"] == "premature"
    (policy_id,) = _flight_policies(api, 1)
    clock.advance(hours=17)
    feed.post("/v1/trigger-events", flight_status(245))
    (claim,) = _claims_of(api, policy_id)
    assert claim["status"] == "in_review"
    assert [s["code"] for s in claim["signals"]] == ["issued_after_event"]


# -- shipment.return ----------------------------------------------------------------------


def test_a_return_pickup_pays_the_cost_up_to_the_cap(
    api: ApiClient, feed: Bearer, clock: Clock
) -> None:
    _, cheap = api.post("/v1/policies", shipping_policy("order-1"))
    _, dear = api.post("/v1/policies", shipping_policy("order-2"))
    clock.advance(days=2)
    feed.post("/v1/trigger-events", shipment_return("order-1", "12.00", tracking="SF0000000001"))
    feed.post("/v1/trigger-events", shipment_return("order-2", "40.00", tracking="SF0000000002"))
    (claim,) = _claims_of(api, cheap["id"])
    assert claim["status"] == "paid" and claim["amount_paid"]["amount"] == "12.00"
    (claim,) = _claims_of(api, dear["id"])
    assert claim["status"] == "paid" and claim["amount_paid"]["amount"] == "25.00"
    assert claim["evaluation"]["payout_expression"] == "min(shipping_cost, 25.00)"


def test_a_reused_tracking_number_sends_the_second_claim_to_review(
    api: ApiClient, feed: Bearer, clock: Clock
) -> None:
    _, first = api.post("/v1/policies", shipping_policy("order-1"))
    _, second = api.post("/v1/policies", shipping_policy("order-2"))
    clock.advance(days=2)
    feed.post("/v1/trigger-events", shipment_return("order-1", tracking="YT9988776655"))
    feed.post("/v1/trigger-events", shipment_return("order-2", tracking="yt9988776655"))
    assert _claims_of(api, first["id"])[0]["status"] == "paid"
    (claim,) = _claims_of(api, second["id"])
    assert claim["status"] == "in_review"
    (signal,) = claim["signals"]
    assert signal["code"] == "evidence_reused" and "1 other claim" in signal["reason"]
    assert first["id"] not in signal["reason"]  # partners never learn others' policies


def test_a_return_within_the_hour_of_insuring_is_reviewed(api: ApiClient, feed: Bearer) -> None:
    _, pol = api.post("/v1/policies", shipping_policy("order-1"))
    feed.post(
        "/v1/trigger-events",
        shipment_return(
            "order-1",
            picked_up_at="2026-11-25T10:20:00+08:00",
            observed_at="2026-11-25T10:30:00+08:00",
        ),
    )
    (claim,) = _claims_of(api, pol["id"])
    assert claim["status"] == "in_review"
    assert claim["signals"][0]["code"] == "soon_after_issue"


def test_a_partner_simulates_a_return_by_its_own_external_ref(
    api: ApiClient, other_api: ApiClient, feed: Bearer, clock: Clock
) -> None:
    _, pol = api.post("/v1/policies", shipping_policy("order-77", order_id="AAA111"))
    _, theirs = other_api.post("/v1/policies", shipping_policy("order-77", order_id="BBB222"))
    clock.advance(days=2)
    body = shipment_return("ignored")
    del body["data"]["platform"], body["data"]["order_id"]
    body["data"]["external_ref"] = "order-77"
    # A provider does not know whose order-77 it is: it must name the marketplace order.
    status, refused = feed.post("/v1/trigger-events", body)
    assert status == 400 and refused["error"]["param"] == "data.external_ref"
    status, trigger = api.post("/v1/trigger-events", body)
    assert status == 201 and trigger["result"]["paid"] == 1
    assert _claims_of(api, pol["id"])[0]["status"] == "paid"
    assert _claims_of(other_api, theirs["id"]) == []


def test_a_claim_the_rules_rejected_on_a_correction_is_decided_anew(
    api: ApiClient, feed: Bearer, clock: Clock
) -> None:
    (policy_id,) = _flight_policies(api, 1)
    clock.advance(hours=27)
    # Filed first (in review), then reports: 300 minutes...
    feed.post("/v1/trigger-events", flight_status(20, observed_at="2026-11-26T03:00:00+00:00"))
    claim = _filed(api, policy_id, "300.00")
    assert "trigger_contradicts_claim" in [s["code"] for s in claim["signals"]]
    feed.post("/v1/trigger-events", flight_status(300, observed_at="2026-11-26T05:30:00+00:00"))
    (filed,) = _claims_of(api, policy_id)
    assert filed["status"] == "in_review"  # people decide a filed claim
    assert filed["evaluation"]["result"] == "pays"


def test_a_growing_delay_moves_an_open_claim_and_a_rule_rejection_is_not_final(
    api: ApiClient, feed: Bearer, clock: Clock
) -> None:
    # An announced delay, before the policy is bought: known, though not yet a fact.
    feed.post("/v1/trigger-events", flight_status(30, observed_at="2026-11-25T11:00:00+00:00"))
    clock.advance(hours=10)
    (policy_id,) = _flight_policies(api, 1)  # bought after the first delay report: review
    clock.advance(hours=17)
    feed.post("/v1/trigger-events", flight_status(130, observed_at="2026-11-26T02:30:00+00:00"))
    (claim,) = _claims_of(api, policy_id)
    assert claim["status"] == "in_review" and claim["amount_claimed"]["amount"] == "100.00"
    feed.post("/v1/trigger-events", flight_status(250, observed_at="2026-11-26T04:30:00+00:00"))
    (claim,) = _claims_of(api, policy_id)
    assert claim["type"] == "delay_240" and claim["amount_claimed"]["amount"] == "300.00"
    feed.post("/v1/trigger-events", flight_status(30, observed_at="2026-11-26T05:00:00+00:00"))
    (claim,) = _claims_of(api, policy_id)
    assert claim["status"] == "rejected" and claim["decision"]["reject_code"] == "not_covered"
    feed.post("/v1/trigger-events", flight_status(245, observed_at="2026-11-26T05:30:00+00:00"))
    claims = _claims_of(api, policy_id)
    assert [c["status"] for c in claims] == ["in_review", "rejected"]
    assert claims[0]["signals"][0]["code"] == "issued_after_event"


# -- who may post -------------------------------------------------------------------------


def test_in_test_mode_a_partner_simulates_only_its_own_policies(
    api: ApiClient, other_api: ApiClient, clock: Clock
) -> None:
    (mine,) = _flight_policies(api, 1)
    (theirs,) = _flight_policies(other_api, 1, start=5)
    clock.advance(hours=27)
    status, trigger = api.post("/v1/trigger-events", flight_status(245))
    assert status == 201 and trigger["result"]["matched"] == 1
    assert _claims_of(api, mine)[0]["status"] == "paid"
    assert _claims_of(other_api, theirs) == []


def test_live_trigger_events_need_a_provider_key(
    app: Flask, api: ApiClient, engine: sa.Engine, clock: Clock
) -> None:
    clock.advance(hours=28)  # live reports are never observed in the future
    live = ApiClient(app.test_client(), add_key(engine, api.partner_id, live=True), api.partner_id)
    status, body = live.post("/v1/trigger-events", flight_status(245))
    assert status == 403 and body["error"]["code"] == "provider_key_required"
    provider = Bearer(app.test_client(), provider_key(engine, live=True))
    assert provider.post("/v1/trigger-events", flight_status(245))[0] == 201
    # A provider key can do nothing else.
    assert provider.get("/v1/policies")[0] == 403
    assert provider.get("/v1/claims")[0] == 403


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"type": "flight.landed"}, "type"),
        ({"data": {"carrier": "MU"}}, "data.flight_number"),
        ({"observed_at": "2026-11-25 10:00"}, "observed_at"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_trigger_events_name_the_field_and_change_nothing(
    feed: Bearer, api: ApiClient, change: dict[str, Any], param: str, clock: Clock
) -> None:
    (policy_id,) = _flight_policies(api, 1)
    clock.advance(hours=27)
    body = {**flight_status(245), **change}
    status, answer = feed.post("/v1/trigger-events", body)
    assert status == 400, answer
    assert answer["error"]["param"] == param
    assert _claims_of(api, policy_id) == []


def test_a_shipment_must_name_its_order(feed: Bearer) -> None:
    body = shipment_return("x")
    del body["data"]["order_id"]
    status, answer = feed.post("/v1/trigger-events", body)
    assert status == 400 and answer["error"]["param"] == "data"
    assert "platform+order_id or external_ref" in answer["error"]["message"]


# -- filed claims and review ---------------------------------------------------------------


def _filed(api: ApiClient, policy_id: str, amount: str | None = "150.00") -> dict[str, Any]:
    body: dict[str, Any] = {
        "policy": policy_id,
        "type": "delay_120",
        "description": "The airline rebooked the passenger on a later flight",
        "evidence": {"airline_letter": "MU-2026-1126-88"},
    }
    if amount:
        body["amount_claimed"] = {"amount": amount, "currency": "CNY"}
    status, claim = api.post("/v1/claims", body)
    assert status == 201, claim
    return claim


def test_a_filed_claim_goes_to_review_once(api: ApiClient) -> None:
    (policy_id,) = _flight_policies(api, 1)
    claim = _filed(api, policy_id, "100.00")
    assert claim["status"] == "in_review" and claim["origin"] == "filed"
    assert claim["signals"][0]["code"] == "filed_claim"
    status, again = api.post(
        "/v1/claims",
        {"policy": policy_id, "type": "delay_240", "description": "same flight"},
    )
    assert status == 409 and again["error"]["code"] == "duplicate_claim"


def test_a_filed_claim_the_flight_report_contradicts_is_flagged(
    api: ApiClient, feed: Bearer, clock: Clock
) -> None:
    (policy_id,) = _flight_policies(api, 1)
    clock.advance(hours=27)
    feed.post("/v1/trigger-events", flight_status(35))
    claim = _filed(api, policy_id, "300.00")
    codes = [s["code"] for s in claim["signals"]]
    assert codes[:2] == ["filed_claim", "trigger_contradicts_claim"]
    assert "delay_minutes=35" in claim["signals"][1]["reason"]
    assert "pays nothing" in claim["signals"][1]["reason"]


@pytest.mark.parametrize(
    ("change", "status", "param"),
    [
        ({"policy": "pol_01jf3k9x2m7q4v8z0c5n6b1r2t"}, 404, "policy"),
        ({"policy": "nope"}, 400, "policy"),
        ({"type": "lost_luggage"}, 400, "type"),
        ({"description": ""}, 400, "description"),
        ({"amount_claimed": {"amount": 1.5, "currency": "CNY"}}, 400, "amount_claimed.amount"),
        ({"amount_claimed": {"amount": "5000.00", "currency": "CNY"}}, 422, "amount_claimed"),
        (
            {"amount_claimed": {"amount": "10.00", "currency": "USD"}},
            400,
            "amount_claimed.currency",
        ),
    ],
)
def test_bad_claims_name_the_field(
    api: ApiClient, change: dict[str, Any], status: int, param: str
) -> None:
    (policy_id,) = _flight_policies(api, 1)
    body = {"policy": policy_id, "type": "delay_120", "description": "late", **change}
    got, answer = api.post("/v1/claims", body)
    assert got == status, answer
    assert answer["error"]["param"] == param
    assert _claims_of(api, policy_id) == []


@pytest.fixture
def reviewer(app: Flask, engine: sa.Engine) -> Bearer:
    return Bearer(app.test_client(), staff_token(engine, "li.na@ops.example", "reviewer"))


@pytest.fixture
def reviewer2(app: Flask, engine: sa.Engine) -> Bearer:
    return Bearer(app.test_client(), staff_token(engine, "wang.wei@ops.example", "reviewer"))


@pytest.fixture
def approver(app: Flask, engine: sa.Engine) -> Bearer:
    return Bearer(app.test_client(), staff_token(engine, "zhao.min@ops.example", "approver"))


def test_one_reviewer_approves_below_the_limit(
    api: ApiClient, reviewer: Bearer, engine: sa.Engine
) -> None:
    (policy_id,) = _flight_policies(api, 1)
    claim = _filed(api, policy_id, "100.00")
    status, queue = reviewer.get("/v1/ops/claims")
    assert status == 200 and [c["id"] for c in queue["data"]] == [claim["id"]]
    status, done = reviewer.post(
        f"/v1/ops/claims/{claim['id']}/approve", {"reason": "letter checked"}
    )
    assert status == 200, done
    assert done["status"] == "paid" and done["amount_paid"]["amount"] == "100.00"
    assert reviewer.get("/v1/ops/claims")[1]["data"] == []
    _, partner_view = api.get(f"/v1/claims/{claim['id']}")
    assert partner_view["decision"]["by"] == "staff"
    _, detail = reviewer.get(f"/v1/ops/claims/{claim['id']}")
    steps = [(a["action"], a["actor"]["type"], a["to_status"]) for a in detail["audit"]]
    assert steps == [
        ("submit", "partner", "submitted"),
        ("refer", "system", "in_review"),
        ("approve", "staff", "approved"),
        ("pay", "system", "paid"),
    ]
    assert detail["audit"][2]["actor"]["id"] == "li.na@ops.example"
    assert detail["payout"]["method"] == "statement"


def test_above_the_limit_two_different_approvers_are_needed(
    api: ApiClient, reviewer: Bearer, reviewer2: Bearer, approver: Bearer
) -> None:
    (policy_id,) = _flight_policies(api, 1)
    claim = _filed(api, policy_id, "250.00")  # above SECOND_APPROVAL_ABOVE (200.00)
    url = f"/v1/ops/claims/{claim['id']}/approve"
    status, first = reviewer.post(url, {"reason": "rebooking letter matches"})
    assert status == 200 and first["status"] == "in_review"
    assert first["review"]["second_approval_pending"] is True
    status, again = reviewer.post(url, {"reason": "me again"})
    assert status == 403 and again["error"]["code"] == "second_approver_required"
    status, other = reviewer2.post(url, {"reason": "looks fine"})
    assert status == 403 and other["error"]["code"] == "approver_role_required"
    status, done = approver.post(url, {"reason": "confirmed"})
    assert status == 200 and done["status"] == "paid"
    assert done["amount_paid"]["amount"] == "250.00"
    _, detail = approver.get(f"/v1/ops/claims/{claim['id']}")
    actions = [(a["action"], a["actor"]["id"]) for a in detail["audit"]]
    assert ("approve_first", "li.na@ops.example") in actions
    assert ("approve", "zhao.min@ops.example") in actions


def test_reject_request_info_and_invalid_transitions(api: ApiClient, reviewer: Bearer) -> None:
    (policy_id,) = _flight_policies(api, 1)
    claim = _filed(api, policy_id)
    base = f"/v1/ops/claims/{claim['id']}"
    status, asked = reviewer.post(f"{base}/request-info", {"reason": "send the airline letter"})
    assert status == 200 and asked["review"]["information_requested_at"] is not None
    status, bad = reviewer.post(f"{base}/reject", {"reject_code": "nope", "reason": "x"})
    assert status == 400 and bad["error"]["param"] == "reject_code"
    status, rejected = reviewer.post(
        f"{base}/reject", {"reject_code": "insufficient_evidence", "reason": "no letter"}
    )
    assert status == 200 and rejected["status"] == "rejected"
    status, refused = reviewer.post(f"{base}/approve", {})
    assert status == 409 and refused["error"]["code"] == "claim_rejected"


def test_the_ops_api_takes_staff_tokens_only(api: ApiClient, app: Flask) -> None:
    partner = Bearer(app.test_client(), api.key)
    status, body = partner.get("/v1/ops/claims")
    assert status == 401 and body["error"]["code"] == "staff_token_required"
    assert Bearer(app.test_client(), "ops_wrong").get("/v1/ops/claims")[0] == 401


def test_the_audit_log_is_append_only(api: ApiClient, engine: sa.Engine) -> None:
    (policy_id,) = _flight_policies(api, 1)
    _filed(api, policy_id)
    for stmt in (claim_audit.update().values(reason="rewritten"), claim_audit.delete()):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(stmt)


# -- events, statements, attachments -------------------------------------------------------


def test_claim_events_and_the_statement_payout_line(
    api: ApiClient, feed: Bearer, clock: Clock
) -> None:
    (policy_id,) = _flight_policies(api, 1)
    clock.advance(hours=27)
    feed.post("/v1/trigger-events", flight_status(245))
    (claim,) = _claims_of(api, policy_id)
    _, events = api.get("/v1/events", object=claim["id"])
    assert [e["type"] for e in reversed(events["data"])] == [
        "claim.created",
        "claim.approved",
        "claim.paid",
    ]
    assert events["data"][0]["data"]["object"]["status"] == "paid"
    _, st = api.get("/v1/statements", period="2026-11")
    (line,) = st["lines"]
    assert line["payout"] == {"amount": "300.00", "currency": "CNY"}
    premium = line["premium"]["amount"]
    commission = line["commission"]["amount"]
    from decimal import Decimal

    assert Decimal(line["net_due"]["amount"]) == Decimal(premium) - Decimal(commission) - 300


def test_attachments_are_stored_by_digest_and_size_limited(
    api: ApiClient, app: Flask, config: Any
) -> None:
    (policy_id,) = _flight_policies(api, 1)
    claim = _filed(api, policy_id)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {api.key}"}
    import io

    r = client.post(
        f"/v1/claims/{claim['id']}/attachments",
        data={"file": (io.BytesIO(b"%PDF-1.4 letter"), "letter.pdf", "application/pdf")},
        headers=headers,
    )
    assert r.status_code == 201, r.get_json()
    att = r.get_json()
    assert att["size"] == 15 and att["content_type"] == "application/pdf"
    stored = config.attachments_dir / att["sha256"][:2] / att["sha256"]
    assert stored.read_bytes() == b"%PDF-1.4 letter"
    _, view = api.get(f"/v1/claims/{claim['id']}")
    assert [a["file_name"] for a in view["attachments"]] == ["letter.pdf"]
    # A small limit keeps the upload in memory (the test client leaks its temporary file).
    svc = app.extensions["policy_service"]
    svc.config = svc.config.with_(attachment_max_bytes=1000)
    big = io.BytesIO(b"x" * 1001)
    r = client.post(
        f"/v1/claims/{claim['id']}/attachments",
        data={"file": (big, "big.bin")},
        headers=headers,
    )
    assert r.status_code == 413


# -- policies older than the claims service ---------------------------------------------------


def test_a_policy_on_the_earlier_edition_is_paid_by_its_own_rules(
    api: ApiClient, feed: Bearer, clock: Clock, app: Flask, engine: sa.Engine
) -> None:
    from datetime import datetime

    from policy_service.adapters.tables import policy_subjects
    from policy_service.services.triggers import index_policies

    clock.now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # before 2026-11-25 took over
    (policy_id,) = _flight_policies(api, 1)
    assert api.get(f"/v1/policies/{policy_id}")[1]["edition"]["id"] == "2026-11"
    # Issued before claims existed: nothing stored to find it by, until it is indexed.
    with engine.begin() as conn:
        conn.execute(policy_subjects.delete())
    clock.now = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    _, missed = feed.post("/v1/trigger-events", flight_status(245))
    assert missed["result"]["matched"] == 0
    svc = app.extensions["policy_service"]
    assert index_policies(svc.claims()) == 1
    assert index_policies(svc.claims()) == 0
    feed.post("/v1/trigger-events", flight_status(250, observed_at="2026-11-26T06:00:00+00:00"))
    (claim,) = _claims_of(api, policy_id)
    assert claim["status"] == "paid" and claim["amount_paid"]["amount"] == "300.00"
    assert claim["evaluation"]["edition"] == "2026-11"


def test_a_settlement_whose_held_write_is_refused_settles_again_one_by_one(
    api: ApiClient, feed: Bearer, engine: sa.Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if a claim for the same loss had been filed between the read and the write: the
    # one-statement write says no, the transaction rolls back, the general path settles.
    ids = _flight_policies(api, 2)
    clock.advance(hours=27)
    refusals = []
    real_flush = held_inserts.flush

    def refuse_once(conn: Any) -> bool:
        if not refusals:
            refusals.append(real_flush(conn))
            return False
        return real_flush(conn)

    monkeypatch.setattr(held_inserts, "flush", refuse_once)
    status, trigger = feed.post("/v1/trigger-events", flight_status(245))
    assert status == 201 and trigger["result"]["paid"] == 2, trigger
    assert refusals == [True]
    for policy_id in ids:
        (claim,) = _claims_of(api, policy_id)
        assert claim["status"] == "paid"
    with engine.connect() as conn:
        booked = conn.execute(
            sa.select(sa.func.count()).where(ledger_entries.c.kind == "payout")
        ).scalar_one()
        audited = conn.execute(sa.select(sa.func.count()).select_from(claim_audit)).scalar_one()
    assert booked == 2 and audited == 2 * 3  # nothing of the refused attempt remains
