"""Money moved through the payment peer matches the books, whatever happens: a hypothesis
state machine over stripe-billed policies and a real Stripe-compatible peer (localstripe)
behind a proxy that cuts the network on purpose.

It endorses (dearer, cheaper, back again; with a good or a declined card), retries with
the same Idempotency-Key, cancels, lets time pass (past a product's deadline, past the
point where the worker gives up an unconfirmed charge) and runs the worker, while the
peer is reachable, refuses connections, or charges and never answers. After every step:

- every answer is a 2xx or a 4xx, or a 503 saying the charge is not final;
- a policy's premium is the one issued plus the difference of every endorsement made;
- an endorsement that raised the premium was made only once its charge succeeded, and a
  charge that succeeded either made its endorsement or is given back whole (never both);
- an endorsement that lowered it is booked only once its refund went through;
- no charge is refunded more than it took (Stripe's rule; localstripe does not check);
- once the worker has settled everything, the peer's money (charges less refunds) for
  each policy is exactly what the ledger books for it: nothing charged twice, nothing
  refunded that was not booked, nothing booked that did not move.

STRIPE_MONEY_EXAMPLES (default 20) sets the number of sequences; STRIPE_MONEY_STEPS
(default 12) the steps in each. The product and the changes come from products/.
"""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from policy_service.adapters.tables import (
    ledger_entries,
    payments,
    policies,
    policy_endorsements,
    refunds,
)
from policy_service.services import payment_settling
from tests.claims_helpers import resident_id
from tests.conftest import ApiClient, Clock, make_partner, passenger
from tests.endorsement_helpers import CASE, EDITION, PRODUCT, priced_change
from tests.payment_peer import FaultProxy, payment_method, peer_get

EXAMPLES = int(os.environ.get("STRIPE_MONEY_EXAMPLES", "20"))
STEPS = int(os.environ.get("STRIPE_MONEY_STEPS", "12"))
DECLINED = "4000000000000341"
#: the peer reachable (most often), refusing connections, or charging without answering
FAULTS = ("pass", "pass", "pass", "refuse", "swallow:/confirm", "swallow:/v1/refunds")
#: minutes to let pass: a retry's back-off, the worker's give-up (61), a day (deadlines)
WAITS = (2, 61, 24 * 60)


def _variants() -> list[dict[str, Any]]:
    """Risk changes: dearer, cheaper, both, and back to the policy as issued."""
    dearer, _ = priced_change(dearer=True)
    cheaper, _ = priced_change(dearer=False)
    issued = EDITION.inputs.to_json(EDITION.inputs.parse(CASE.risk))
    back = {k: issued[k] for k in {**dearer, **cheaper}}
    return [dearer, cheaper, {**dearer, **cheaper}, back]


VARIANTS = _variants()


class StripeMoney(RuleBasedStateMachine):
    app: Flask
    engine: sa.Engine
    clock: Clock
    peer: str
    proxy: FaultProxy
    runs = 0

    def __init__(self) -> None:
        super().__init__()
        self.policies: list[str] = []
        self.last: dict[str, tuple[str, dict[str, Any]]] = {}
        self.keys = 0

    @initialize(count=st.integers(1, 2))
    def start(self, count: int) -> None:
        StripeMoney.runs += 1
        self.clock.now = CASE.quoted_at.astimezone(UTC)
        partner_id, key = make_partner(self.engine, f"Card Shop {self.runs}", billing="stripe")
        self.shop = ApiClient(self.app.test_client(), key, partner_id)
        self.card = payment_method(self.peer)
        self.declined = payment_method(self.peer, DECLINED)
        self.fault("pass")
        for i in range(count):
            body: dict[str, Any] = {
                "product": PRODUCT.code,
                "external_ref": f"money-{self.runs}-{i}",
                "risk": EDITION.inputs.to_json(EDITION.inputs.parse(CASE.risk)),
                "payment_method": self.card,
            }
            if PRODUCT.policyholder == "required":
                body["policyholder"] = passenger(resident_id(self.runs * 2 + i))
            status, policy = self.shop.post("/v1/policies", body, key=f"issue-{i}")
            assert status == 201, policy
            self.policies.append(policy["id"])

    # -- the world ------------------------------------------------------------------------

    def fault(self, mode: str) -> None:
        self.proxy.mode = mode
        # a kept-alive connection would slip past the fault (or keep one that is over)
        self.app.extensions["policy_service"].gateway.session.close()

    def post(self, path: str, body: dict[str, Any], key: str | None) -> tuple[int, Any]:
        status, answer = self.shop.post(path, body, key=key)
        if status == 503:
            assert answer["error"]["code"] == "payment_service_unavailable", answer
        else:
            assert status < 500, (path, body, answer)
        return status, answer

    # -- rules ----------------------------------------------------------------------------

    @rule(
        which=st.integers(0, 1),
        variant=st.integers(0, len(VARIANTS) - 1),
        fault=st.sampled_from(FAULTS),
        declined=st.sampled_from((False, False, False, True)),
    )
    def endorse(self, which: int, variant: int, fault: str, declined: bool) -> None:
        policy_id = self.policies[which % len(self.policies)]
        body: dict[str, Any] = {"risk": VARIANTS[variant]}
        if declined:
            body["payment_method"] = self.declined
        self.keys += 1
        key = f"end-{self.keys}"
        self.last[policy_id] = (key, body)
        self.fault(fault)
        try:
            self.post(f"/v1/policies/{policy_id}/endorsements", body, key)
        finally:
            self.fault("pass")

    @precondition(lambda self: bool(self.last))
    @rule(which=st.integers(0, 1))
    def retry(self, which: int) -> None:
        policy_id = sorted(self.last)[which % len(self.last)]
        key, body = self.last[policy_id]
        self.post(f"/v1/policies/{policy_id}/endorsements", body, key)

    @rule(which=st.integers(0, 1), now=st.sampled_from((False, False, True)))
    def cancel(self, which: int, now: bool) -> None:
        if not now:  # less often than the rest: it ends a policy's story
            return
        policy_id = self.policies[which % len(self.policies)]
        self.post(f"/v1/policies/{policy_id}/cancel", {"reason": "requested_by_customer"}, None)

    @rule(minutes=st.sampled_from(WAITS))
    def wait(self, minutes: int) -> None:
        self.clock.advance(minutes=minutes)

    @rule()
    def near_the_cover(self) -> None:
        """An hour before the first policy's cover starts: its product's deadline for a
        change has passed (a charge under way then is given back)."""
        status, policy = self.shop.get(f"/v1/policies/{self.policies[0]}")
        assert status == 200, policy
        start = datetime.fromisoformat(policy["coverage"]["starts_at"]) - timedelta(hours=1)
        self.clock.now = max(self.clock.now, start)

    @rule()
    def settle(self) -> None:
        """The worker runs until nothing is left to settle; then the peer and the books
        agree, policy by policy."""
        billing = self.app.extensions["policy_service"].billing()
        for _ in range(4):  # past the lease, past the give-up, then the refunds it caused
            self.clock.advance(minutes=61)
            payment_settling.reconcile(billing, self.clock())
        with self.engine.connect() as conn:
            open_payments = conn.execute(
                sa.select(payments.c.id).where(
                    payments.c.policy_id.in_(self.policies),
                    payments.c.status.in_(("creating", "confirming", "unknown")),
                )
            ).all()
            pending = conn.execute(
                sa.select(refunds.c.id).where(
                    refunds.c.policy_id.in_(self.policies), refunds.c.status == "pending"
                )
            ).all()
        assert open_payments == [] and pending == [], (open_payments, pending)
        for policy_id in self.policies:
            assert self.peer_net(policy_id) == self.booked(policy_id), policy_id

    def peer_net(self, policy_id: str) -> int:
        with self.engine.connect() as conn:
            intents = [
                r.payment_intent
                for r in conn.execute(
                    sa.select(payments.c.payment_intent).where(payments.c.policy_id == policy_id)
                )
                if r.payment_intent
            ]
        net = 0
        for intent in intents:
            found = peer_get(self.peer, f"/v1/payment_intents/{intent}")
            charged = found["amount"] if found["status"] == "succeeded" else 0
            back = peer_get(self.peer, f"/v1/refunds?payment_intent={intent}&limit=100")["data"]
            refunded = sum(r["amount"] for r in back if r["status"] == "succeeded")
            # Stripe gives back on a charge at most what it took (localstripe does not check)
            assert refunded <= charged, (intent, charged, refunded)
            net += charged - refunded
        return net

    def booked(self, policy_id: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.coalesce(sa.func.sum(ledger_entries.c.amount), 0)).where(
                        ledger_entries.c.policy_id == policy_id,
                        ledger_entries.c.kind.in_(("premium", "endorsement", "refund")),
                    )
                ).scalar_one()
            )

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def books_follow_the_money(self) -> None:
        if not self.policies:
            return
        with self.engine.connect() as conn:
            pols = {
                r.id: r
                for r in conn.execute(sa.select(policies).where(policies.c.id.in_(self.policies)))
            }
            changes = list(
                conn.execute(
                    sa.select(policy_endorsements)
                    .where(policy_endorsements.c.policy_id.in_(self.policies))
                    .order_by(policy_endorsements.c.version)
                )
            )
            pays = list(
                conn.execute(
                    sa.select(payments).where(
                        payments.c.policy_id.in_(self.policies),
                        payments.c.purpose == "endorsement",
                    )
                )
            )
            backs = list(
                conn.execute(sa.select(refunds).where(refunds.c.policy_id.in_(self.policies)))
            )
            entries = list(
                conn.execute(
                    sa.select(ledger_entries).where(
                        ledger_entries.c.policy_id.in_(self.policies),
                        ledger_entries.c.kind == "endorsement",
                    )
                )
            )
        issued: dict[str, int] = {}
        moved: dict[str, int] = defaultdict(int)
        for e in changes:
            issued.setdefault(e.policy_id, e.before_total)
            moved[e.policy_id] += e.after_total - e.before_total
        for policy_id, pol in pols.items():
            if policy_id in issued:
                assert pol.premium_total == issued[policy_id] + moved[policy_id]
        returned = {r.payment_id for r in backs if r.kind == "returned"}
        paid_for = {p.endorsement_id: p for p in pays if p.endorsement_id}
        for p in pays:
            if p.status == "succeeded":
                # made, or given back whole: never both, never neither
                assert (p.endorsement_id is not None) != (p.id in returned), p
            else:
                assert p.endorsement_id is None, p
        refunded = {r.endorsement_id: r for r in backs if r.kind == "endorsement"}
        booked = {e.endorsement_id: e.amount for e in entries}
        for e in changes:
            diff = e.after_total - e.before_total
            if diff > 0:
                assert e.id in paid_for and paid_for[e.id].amount == diff, e
                assert booked.get(e.id) == diff
            elif diff < 0:
                done = refunded[e.id].status == "succeeded"
                assert (e.id in booked) == done and refunded[e.id].amount == -diff, e
                assert booked.get(e.id, diff) == diff
            else:
                assert e.id not in booked


def test_the_peer_and_the_books_agree_whatever_happens(
    stripe_app: Flask,
    engine: sa.Engine,
    clock: Clock,
    peer: str,
    proxy: FaultProxy,
) -> None:
    StripeMoney.app, StripeMoney.engine, StripeMoney.clock = stripe_app, engine, clock
    StripeMoney.peer, StripeMoney.proxy = peer, proxy
    run_state_machine_as_test(
        StripeMoney,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
