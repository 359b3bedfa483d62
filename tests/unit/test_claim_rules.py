"""Claim rules, trigger types, the claim lifecycle and the general fraud signals (pure code)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from policy_service.domain.claims import (
    CLAIM_TRANSITIONS,
    ClaimStatus,
    claim_transition,
)
from policy_service.domain.errors import InvalidTransition
from pricing.claim_signals import SignalFacts, general_signals
from pricing.claims import PolicyFacts, decide, policy_subject_keys, trigger_subject_keys
from pricing.errors import InputErrors
from pricing.loader import load_product
from tests.edition_files import trigger_types

from .test_product_files import edit, refusal, root  # noqa: F401 - fixture

PRODUCTS = Path(__file__).resolve().parents[2] / "products"
TRIGGER_TYPES = trigger_types(PRODUCTS)
FLIGHT = load_product(PRODUCTS / "flight_delay", PRODUCTS).editions[-1]
SHIPPING = load_product(PRODUCTS / "return_shipping", PRODUCTS).editions[-1]
T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def _flight(delay: int | None, status: str = "delayed") -> dict:
    raw = {
        "carrier": "MU",
        "flight_number": "MU5101",
        "scheduled_departure": "2026-12-01T08:00:00+08:00",
        "status": status,
    }
    if delay is not None:
        raw["delay_minutes"] = delay
    return TRIGGER_TYPES["flight.status"].parse(raw)


RISK = FLIGHT.inputs.parse(
    {
        "carrier": "MU",
        "flight_number": "MU5101",
        "origin": "SHA",
        "destination": "PEK",
        "scheduled_departure": "2026-12-01T08:00:00+08:00",
    }
)
FACTS = PolicyFacts(
    "booking-1", Decimal("15.00"), T0, T0 + timedelta(days=2), T0 - timedelta(days=1)
)


def decide_at(edition, trigger: str, risk, facts, values, observed_at):  # type: ignore[no-untyped-def]
    """decide() with the trigger type's own event time for the report."""
    event_time = TRIGGER_TYPES[trigger].event_time_of(values, observed_at)
    return decide(edition, trigger, risk, facts, values, max(observed_at, event_time), event_time)


@pytest.mark.parametrize(
    ("delay", "status", "rule", "amount"),
    [
        (30, "delayed", None, None),
        (119, "delayed", None, None),
        (120, "delayed", "delay_120", "100.00"),
        (239, "departed", "delay_120", "100.00"),
        (240, "delayed", "delay_240", "300.00"),
        (245, "arrived", "delay_240", "300.00"),
        (None, "cancelled", "cancellation", "200.00"),
        (None, "delayed", None, None),  # no delay reported yet
    ],
)
def test_flight_tiers(delay: int | None, status: str, rule: str | None, amount: str | None) -> None:
    d = decide_at(FLIGHT, "flight.status", RISK, FACTS, _flight(delay, status), T0)
    assert (d.rule.code if d.rule else None) == rule
    assert d.amount == (Decimal(amount) if amount else None)
    assert d.problem is None
    explained = d.to_json("CNY")
    assert explained["result"] == ("pays" if rule else "not_covered")
    assert explained["content_hash"] == FLIGHT.content_hash


def test_a_higher_tier_never_pays_less() -> None:
    paid = [
        decide_at(FLIGHT, "flight.status", RISK, FACTS, _flight(m), T0).amount or Decimal(0)
        for m in range(0, 600, 5)
    ]
    assert paid == sorted(paid)


def test_return_shipping_pays_the_cost_up_to_the_cap_within_the_cover() -> None:
    risk = SHIPPING.inputs.parse(SHIPPING.example(T0))
    facts = PolicyFacts("o-1", Decimal("1.00"), T0, T0 + timedelta(days=10), T0)

    def pickup(cost: str, at: str = "2026-12-03T10:00:00+08:00", currency: str = "CNY") -> dict:
        return TRIGGER_TYPES["shipment.return"].parse(
            {
                "platform": "taobao",
                "order_id": "1",
                "carrier": "SF",
                "tracking_number": "SF123456",
                "picked_up_at": at,
                "shipping_cost": {"amount": cost, "currency": currency},
            }
        )

    def pays(trigger: dict) -> Decimal | None:
        return decide_at(SHIPPING, "shipment.return", risk, facts, trigger, T0).amount

    assert pays(pickup("12.00")) == Decimal("12.00")
    assert pays(pickup("25.01")) == Decimal("25.00")
    assert pays(pickup("12.00", at="2026-12-20T10:00:00+08:00")) is None  # after the cover
    big = decide_at(SHIPPING, "shipment.return", risk, facts, pickup("150.00"), T0)
    assert big.review and big.amount == Decimal("25.00")
    usd = decide_at(SHIPPING, "shipment.return", risk, facts, pickup("12.00", currency="USD"), T0)
    assert usd.problem and "USD" in usd.problem


def test_policy_and_trigger_agree_on_the_subject_whatever_the_offset() -> None:
    keys = policy_subject_keys(FLIGHT, RISK, "booking-1", livemode=False)
    utc = TRIGGER_TYPES["flight.status"].parse(
        {
            "carrier": "MU",
            "flight_number": "MU5101",
            "scheduled_departure": "2026-12-01T00:00:00Z",  # the same instant
            "status": "delayed",
        }
    )
    assert trigger_subject_keys([FLIGHT], "flight.status", False, utc) <= keys
    assert not trigger_subject_keys([FLIGHT], "flight.status", True, utc) & keys  # live != test


def test_a_trigger_must_name_its_subject() -> None:
    with pytest.raises(InputErrors) as exc:
        TRIGGER_TYPES["shipment.return"].parse(
            {
                "carrier": "SF",
                "tracking_number": "SF123456",
                "picked_up_at": "2026-12-03T10:00:00+08:00",
                "shipping_cost": {"amount": "1.00", "currency": "CNY"},
            }
        )
    assert exc.value.errors[0].param == "data"


def test_claim_rules_are_checked_when_the_product_loads(root: Path) -> None:  # noqa: F811
    edition = root / "flight_delay" / "editions" / "2026-11-25" / "edition.yaml"
    edit(
        edition,
        'trigger: flight.status\n    match: [carrier, flight_number, scheduled_departure]\n    when: status == "cancelled"',
        'trigger: flight.landed\n    match: [carrier, flight_number, scheduled_departure]\n    when: status == "cancelled"',
    )
    edit(
        edition,
        'when: status != "cancelled" and delay_minutes >= 240',
        'when: status != "cancelled" and delay_hours >= 4',
    )
    edit(edition, '  auto_approve_up_to: "300.00"', "  auto_approve_up_to: lots")
    errors = "\n".join(refusal(root, "flight_delay"))
    assert "unknown trigger type 'flight.landed'" in errors
    assert "unknown name 'delay_hours'" in errors
    assert "claim_review.auto_approve_up_to" in errors


def test_every_transition_is_in_the_table() -> None:
    assert claim_transition("in_review", "approve") is ClaimStatus.APPROVED
    assert claim_transition("approved", "pay") is ClaimStatus.PAID
    assert claim_transition("payout_failed", "pay") is ClaimStatus.PAID
    assert CLAIM_TRANSITIONS[ClaimStatus.REJECTED] == {}
    # a paid claim can only be topped up (a later report reaching a higher tier)
    assert set(CLAIM_TRANSITIONS[ClaimStatus.PAID]) == {"top_up", "top_up_pending"}
    for status in ("paid", "rejected"):
        with pytest.raises(InvalidTransition) as exc:
            claim_transition(status, "approve")
        assert exc.value.code == f"claim_{status}"
    with pytest.raises(InvalidTransition):
        claim_transition("approved", "reject")


def _facts(**changes: object) -> SignalFacts:
    base = {
        "issued_at": T0,
        "loss_at": T0 + timedelta(days=1),
        "amount": Decimal("100.00"),
        "currency": "CNY",
        "auto_approve_up_to": Decimal("300.00"),
        "soon_after_issue_hours": None,
        "holder_claims_in_window": 0,
        "repeat_claims_max": 5,
        "repeat_claims_days": 30,
    }
    base.update(changes)
    return SignalFacts(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "codes"),
    [
        ({}, []),
        ({"loss_at": T0 - timedelta(minutes=1)}, ["issued_after_event"]),
        (
            {"soon_after_issue_hours": Decimal(1), "loss_at": T0 + timedelta(minutes=20)},
            ["soon_after_issue"],
        ),
        ({"holder_claims_in_window": 5}, ["repeat_claimant"]),
        ({"holder_claims_in_window": 4}, []),
        ({"amount": Decimal("300.01")}, ["above_auto_approve_limit"]),
        (
            {"evidence_label": "tracking number X1", "evidence_reused_by": ["pol_1"]},
            ["evidence_reused"],
        ),
    ],
)
def test_general_signals(changes: dict, codes: list[str]) -> None:
    assert [s.code for s in general_signals(_facts(**changes))] == codes
