"""Money is conserved, whatever happens in whatever order: a hypothesis state machine.

It drives the API (the Flask test client, on the suite's database: SQLite by default,
PostgreSQL in .ci/run) through random sequences over a few flight and return-shipping
policies: issue, endorse (another flight, another order value or delivery day), cancel,
trigger reports in any order (duplicates, corrections, premature ones, higher and lower
tiers, cancellations long ahead and on the day), pickups, filed claims, people's
decisions, and time passing. After every step it checks, per policy:

- premium + endorsement differences - refunds - payouts in the ledger match the policy,
  its claims and the partner's statements (each month, closed or open);
- no policy changes once it has a claim (other than a rejected one) or was cancelled;
- nothing is both refunded and paid out; nothing is paid on a policy after it was
  cancelled, nor for a loss before the cover started or after it ended;
- no claim pays more than the policy's largest benefit, nor is decided on a report
  observed before its loss could have happened;
- every answer is a 2xx or a 4xx, never a 5xx.

MONEY_EXAMPLES (default 200) sets the number of sequences; MONEY_STEPS (default 30) the
steps in each.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from policy_service.adapters.tables import (
    claim_payouts,
    claims,
    ledger_entries,
    metadata,
    policies,
    policy_endorsements,
)
from policy_service.adapters.unit_of_work import SqlUnitOfWork
from policy_service.domain.ledger import period_of
from policy_service.services import delivery
from pricing.claims import benefit_cap
from tests.claims_helpers import Bearer, provider_key, resident_id, staff_token
from tests.conftest import Clock, _append_only_lifted, make_partner, passenger

EXAMPLES = int(os.environ.get("MONEY_EXAMPLES", "200"))
STEPS = int(os.environ.get("MONEY_STEPS", "30"))
#: two eras: the editions in force from 2026-11-25, and those from 2026-12-03
ERAS = (datetime(2026, 11, 25, 2, 0, tzinfo=UTC), datetime(2026, 12, 10, 2, 0, tzinfo=UTC))
#: the tables the catalog's first start wrote: kept between sequences
_KEPT = {"product_editions", "edition_publications"}
DELAYS = (0, 30, 119, 120, 130, 239, 240, 250, 400)
#: when a report is observed, from the moment its loss happened (negative: premature)
LAGS = (-600, -30, 0, 5, 60, 600)
#: when a cancellation is announced, in hours from the scheduled departure
ANNOUNCED = (-50, -30, -20, -3, 1)
COSTS = ("0.50", "12.00", "25.00", "40.00", "150.00")
FLIGHTS = (22, 72, 200)  # departures, in hours from the start


@dataclass
class World:
    """What the machine has done, to pick its next steps from."""

    base: datetime
    policies: list[str] = field(default_factory=list)
    #: policy id -> "flight" or "order"
    kinds: dict[str, str] = field(default_factory=dict)
    reports: list[dict[str, Any]] = field(default_factory=list)
    refs: int = 0


class MoneyMachine(RuleBasedStateMachine):
    app: Flask
    engine: sa.Engine
    clock: Clock

    def __init__(self) -> None:
        super().__init__()
        self.world = World(ERAS[0])

    # -- setting up ---------------------------------------------------------------------

    @initialize(
        era=st.sampled_from(ERAS),
        flights=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3)), max_size=4),
        orders=st.lists(st.integers(0, 1), max_size=2),
    )
    def start(self, era: datetime, flights: list[tuple[int, int]], orders: list[int]) -> None:
        self.clock.now = era
        self.world = World(era)
        partner, key = make_partner(self.engine, "Acme")
        client = self.app.test_client()
        self.partner = Bearer(client, key)
        self.partner_id = partner
        self.feed = Bearer(client, provider_key(self.engine))
        self.staff = [
            Bearer(client, staff_token(self.engine, "a@ops.example", "approver")),
            Bearer(client, staff_token(self.engine, "b@ops.example", "admin")),
        ]
        for flight, holder in flights:
            self.issue_flight(flight, holder)
        for order in orders:
            self.issue_return(order)

    def teardown(self) -> None:
        with self.engine.begin() as conn, _append_only_lifted(conn):
            for table in reversed(metadata.sorted_tables):
                if table.name not in _KEPT:
                    conn.execute(table.delete())

    # -- the world ------------------------------------------------------------------------

    def departure(self, flight: int) -> datetime:
        # one flight the next morning (its cover starts within a day), one in three days
        return self.world.base + timedelta(hours=FLIGHTS[flight])

    def delivery(self, order: int) -> datetime:
        return self.world.base + timedelta(days=(1, 5)[order])

    def call(self, method: str, who: Bearer, path: str, body: Any = None) -> tuple[int, Any]:
        status, answer = who.get(path, **(body or {})) if method == "get" else who.post(path, body)
        assert status < 500, (path, body, answer)
        return status, answer

    def observe(self, when: datetime) -> datetime:
        """A fact observed at `when` is posted then or later: the clock never runs back."""
        if when > self.clock.now:
            self.clock.now = when
        return when

    # -- rules ----------------------------------------------------------------------------

    @rule(flight=st.integers(0, 2), holder=st.integers(0, 3))
    def issue_flight(self, flight: int, holder: int) -> None:
        self.world.refs += 1
        body = {
            "product": "flight_delay",
            "external_ref": f"booking-{self.world.refs}",
            "risk": {
                "carrier": "MU",
                "flight_number": f"MU{5100 + flight}",
                "origin": "SHA",
                "destination": "PEK",
                "scheduled_departure": self.departure(flight).isoformat(),
            },
            "policyholder": passenger(resident_id(holder)),
        }
        status, answer = self.call("post", self.partner, "/v1/policies", body)
        assert status in (201, 422), answer
        if status == 201:
            self.world.policies.append(answer["id"])
            self.world.kinds[answer["id"]] = "flight"

    @rule(order=st.integers(0, 1))
    def issue_return(self, order: int) -> None:
        self.world.refs += 1
        body = {
            "product": "return_shipping",
            "external_ref": f"order-{self.world.refs}",
            "risk": {
                "platform": "taobao",
                "order_id": f"T{order}",
                "order_value": {"amount": "299.00", "currency": "CNY"},
                "category": "apparel",
                "buyer_return_band": "medium",
                "merchant_return_band": "low",
                "shipping_region": "cn_east",
                "delivery_date": self.delivery(order).date().isoformat(),
            },
        }
        status, answer = self.call("post", self.partner, "/v1/policies", body)
        assert status in (201, 422), answer
        if status == 201:
            self.world.policies.append(answer["id"])
            self.world.kinds[answer["id"]] = "order"

    @rule(
        data=st.data(),
        flight=st.integers(0, 2),
        value=st.sampled_from(("59.00", "299.00", "1200.00")),
        days=st.integers(0, 3),
    )
    def endorse(self, data: st.DataObject, flight: int, value: str, days: int) -> None:
        """A passenger rebooked onto another flight; an order's value or delivery changed."""
        if not self.world.policies:
            return
        policy = data.draw(st.sampled_from(self.world.policies))
        if self.world.kinds[policy] == "flight":
            risk: dict[str, Any] = {
                "flight_number": f"MU{5100 + flight}",
                "scheduled_departure": self.departure(flight).isoformat(),
            }
        else:
            delivery_date = self.world.base + timedelta(days=1 + days)
            risk = {
                "order_value": {"amount": value, "currency": "CNY"},
                "delivery_date": delivery_date.date().isoformat(),
            }
        path = f"/v1/policies/{policy}/endorsements"
        status, answer = self.call("post", self.partner, path, {"risk": risk})
        assert status in (201, 400, 409, 422), answer

    def flight_report(
        self, flight: int, status: str, delay: int | None, observed: datetime
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "carrier": "MU",
            "flight_number": f"MU{5100 + flight}",
            "scheduled_departure": self.departure(flight).isoformat(),
            "status": status,
        }
        if delay is not None:
            data["delay_minutes"] = delay
        return {"type": "flight.status", "data": data, "observed_at": observed.isoformat()}

    @rule(
        flight=st.integers(0, 2),
        status=st.sampled_from(("delayed", "departed", "arrived")),
        delay=st.sampled_from(DELAYS),
        lag=st.sampled_from(LAGS),
        by_partner=st.booleans(),
    )
    def delay(self, flight: int, status: str, delay: int, lag: int, by_partner: bool) -> None:
        occurred = self.departure(flight) + timedelta(minutes=delay)
        observed = self.observe(occurred + timedelta(minutes=lag))
        self.post_report(self.flight_report(flight, status, delay, observed), by_partner)

    @rule(
        flight=st.integers(0, 2),
        first=st.sampled_from((30, 120, 130, 200, 239)),
        more=st.sampled_from((1, 60, 130, 300)),
    )
    def delay_grows(self, flight: int, first: int, more: int) -> None:
        """A delay reported, then a longer one: a higher tier is topped up."""
        departure = self.departure(flight)
        for delay in (first, first + more):
            observed = self.observe(departure + timedelta(minutes=delay + 5))
            self.post_report(self.flight_report(flight, "delayed", delay, observed))

    @rule(flight=st.integers(0, 2), hours=st.sampled_from(ANNOUNCED))
    def cancelled(self, flight: int, hours: int) -> None:
        observed = self.observe(self.departure(flight) + timedelta(hours=hours))
        self.post_report(self.flight_report(flight, "cancelled", None, observed))

    @rule(
        order=st.integers(0, 1),
        cost=st.sampled_from(COSTS),
        hours=st.integers(-30, 200),
        seen_after=st.sampled_from((-30, 0, 60, 2 * 24 * 60)),
    )
    def pickup(self, order: int, cost: str, hours: int, seen_after: int) -> None:
        picked = self.delivery(order) + timedelta(hours=hours)
        observed = self.observe(picked + timedelta(minutes=seen_after))
        body = {
            "type": "shipment.return",
            "data": {
                "platform": "taobao",
                "order_id": f"T{order}",
                "carrier": "SF",
                "tracking_number": f"SF{order}{hours % 7}0000",
                "picked_up_at": picked.isoformat(),
                "shipping_cost": {"amount": cost, "currency": "CNY"},
            },
            "observed_at": observed.isoformat(),
        }
        self.post_report(body)

    def post_report(self, body: dict[str, Any], by_partner: bool = False) -> None:
        # A partner's test key simulates reports of its own, apart from the provider's.
        who = self.partner if by_partner else self.feed
        status, answer = self.call("post", who, "/v1/trigger-events", body)
        assert status in (200, 201), answer
        self.world.reports.append(body)

    @rule(data=st.data(), later=st.booleans())
    def repost(self, data: st.DataObject, later: bool) -> None:
        """The same report again (one event), or the same fact observed again later."""
        if not self.world.reports:
            return
        body = dict(data.draw(st.sampled_from(self.world.reports)))
        if later:
            body["observed_at"] = self.observe(self.clock.now + timedelta(minutes=5)).isoformat()
        self.post_report(body)

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        if not self.world.policies:
            return
        policy = data.draw(st.sampled_from(self.world.policies))
        status, answer = self.call(
            "post", self.partner, f"/v1/policies/{policy}/cancel", {"reason": "other"}
        )
        assert status in (200, 409), answer

    @rule(
        data=st.data(),
        kind=st.sampled_from(("delay_120", "cancellation", "return_shipping_cost")),
        amount=st.sampled_from((None, "20.00", "100.00", "250.00")),
    )
    def file_claim(self, data: st.DataObject, kind: str, amount: str | None) -> None:
        if not self.world.policies:
            return
        body: dict[str, Any] = {
            "policy": data.draw(st.sampled_from(self.world.policies)),
            "type": kind,
            "description": "filed by the partner",
        }
        if amount:
            body["amount_claimed"] = {"amount": amount, "currency": "CNY"}
        status, answer = self.call("post", self.partner, "/v1/claims", body)
        assert status in (201, 400, 409, 422), answer

    @rule(
        data=st.data(),
        action=st.sampled_from(("approve", "approve", "reject", "request-info")),
        by=st.integers(0, 1),
        amount=st.sampled_from((None, "50.00", "100.00", "300.00")),
    )
    def decide(self, data: st.DataObject, action: str, by: int, amount: str | None) -> None:
        with self.engine.connect() as conn:
            open_ids = sorted(
                conn.execute(
                    sa.select(claims.c.id).where(claims.c.status.in_(("submitted", "in_review")))
                ).scalars()
            )
        if not open_ids:
            return
        claim = data.draw(st.sampled_from(open_ids))
        body: dict[str, Any] = {"reason": "looked at the evidence"}
        if action == "reject":
            body["reject_code"] = "insufficient_evidence"
        if action == "approve" and amount:
            body["amount"] = {"amount": amount, "currency": "CNY"}
        status, answer = self.call("post", self.staff[by], f"/v1/ops/claims/{claim}/{action}", body)
        assert status in (200, 400, 403, 409, 422), answer

    @rule(hours=st.sampled_from((1, 3, 12, 30)))
    def time_passes(self, hours: int) -> None:
        self.clock.now += timedelta(hours=hours)

    @rule()
    def expiry(self) -> None:
        """The worker's sweep: policies whose cover ended expire (reports still match them)."""
        svc = self.app.extensions["policy_service"]
        delivery.expire_policies(
            SqlUnitOfWork(self.engine), self.clock.now, svc.claims().render_policy
        )

    # -- what must always hold --------------------------------------------------------------

    @invariant()
    def money_is_conserved(self) -> None:
        if not hasattr(self, "partner"):
            return
        with self.engine.connect() as conn:
            pols = {
                r.id: r
                for r in conn.execute(
                    sa.select(
                        *(
                            policies.c[name]
                            for name in (
                                "id", "product_code", "edition_id", "premium_total",
                                "refund_amount", "cancelled_at", "coverage_start", "coverage_end",
                            )
                        )
                    )
                )
            }  # fmt: skip
            books: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            for r in conn.execute(sa.select(ledger_entries)):
                assert r.amount == r.tax + r.commission + r.fees + r.net
                books[r.policy_id][r.kind] += int(r.amount)
                if r.kind == "endorsement":  # on a statement: more premium, or some back
                    books[r.policy_id]["more" if r.amount > 0 else "back"] += abs(int(r.amount))
            rows = list(conn.execute(sa.select(claims)))
            changes = list(conn.execute(sa.select(policy_endorsements)))
            payouts = list(conn.execute(sa.select(claim_payouts)))
        by_policy: dict[str, list[Any]] = defaultdict(list)
        for c in rows:
            by_policy[c.policy_id].append(c)
        paid_out: dict[str, int] = defaultdict(int)
        for p in payouts:
            if p.status == "succeeded":
                paid_out[p.claim_id] += int(p.amount)
        catalog = self.app.extensions["policy_service"].catalog
        for policy_id, pol in pols.items():
            book = books[policy_id]
            edition = catalog.edition(pol.product_code, pol.edition_id.split("/", 1)[1])
            cap = int(benefit_cap(edition) * 100)
            # the premium in force is the one issued plus every endorsement's difference
            assert book["premium"] + book["endorsement"] == pol.premium_total
            refund, payout = -book["refund"], -book["payout"]
            assert refund == (pol.refund_amount or 0)
            assert payout == sum(int(c.amount_paid or 0) for c in by_policy[policy_id])
            assert not (refund and payout), f"{policy_id} refunded {refund} and paid {payout}"
            assert payout <= cap, f"{policy_id} paid {payout}, more than its benefit {cap}"
            for c in by_policy[policy_id]:
                assert int(c.amount_paid or 0) == paid_out[c.id]
                assert c.amount_approved is None or c.amount_approved <= cap
                if c.event_time is not None:
                    assert c.observed_at >= c.event_time, f"{c.id} decided before its loss"
                    if c.amount_paid and c.origin == "trigger":
                        assert pol.coverage_start <= c.event_time < pol.coverage_end
                if c.amount_paid and pol.cancelled_at is not None:
                    assert c.created_at <= pol.cancelled_at, f"{c.id} paid after the cancel"
        for e in changes:
            # a policy with a claim never changes (its loss belongs to the risk as it was),
            # nor does one no longer in force
            for c in by_policy[e.policy_id]:
                if c.status != "rejected":
                    assert e.created_at <= c.created_at, f"{e.id} after claim {c.id}"
            cancelled = pols[e.policy_id].cancelled_at
            assert cancelled is None or e.created_at <= cancelled, f"{e.id} after the cancel"
        self.statements_match(pols, books)

    def statements_match(self, pols: dict[str, Any], books: dict[str, Any]) -> None:
        """Each month's statement, closed or open, sums to the ledger, policy by policy."""
        seen: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        month = self.world.base
        periods = []
        while period_of(month, "Asia/Shanghai") <= period_of(self.clock.now, "Asia/Shanghai"):
            periods.append(period_of(month, "Asia/Shanghai"))
            month += timedelta(days=28)
        for period in dict.fromkeys(periods):
            status, statement = self.call("get", self.partner, "/v1/statements", {"period": period})
            assert status == 200, statement
            for line in statement["lines"]:
                for key in ("premium", "refund", "payout"):
                    seen[line["policy"]][key] += _minor(line[key]["amount"])
            for total in statement["totals"]:
                for key in ("premium", "refund", "payout", "net_due"):
                    assert _minor(total[key]["amount"]) == sum(
                        _minor(line[key]["amount"]) for line in statement["lines"]
                    )
        for policy_id in pols:
            book = books[policy_id]
            assert seen[policy_id]["premium"] == book["premium"] + book["more"]
            assert seen[policy_id]["refund"] == -book["refund"] + book["back"]
            assert seen[policy_id]["payout"] == -book["payout"]


@pytest.fixture
def clock() -> Clock:
    """The app starts after every edition came into force, so that the first start
    publishes them all; each sequence then sets the clock to its era."""
    return Clock(ERAS[-1])


def _minor(amount: str) -> int:
    return int(Decimal(amount) * 100)


def test_money_is_conserved_whatever_happens(app: Flask, engine: sa.Engine, clock: Clock) -> None:
    MoneyMachine.app, MoneyMachine.engine, MoneyMachine.clock = app, engine, clock
    run_state_machine_as_test(
        MoneyMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
