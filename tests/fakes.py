"""An in-memory unit of work: the repositories the issue, cancel and decision use cases
touch, as dictionaries, so that their service tests run without a database (as
cosmicpython's handler tests do). Each repository keeps the contract of its SQL twin that
those use cases rely on: unique keys skip a second row, compare-and-set updates."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from policy_service.adapters.idempotency_repo import Answer, StoredResponse
from policy_service.adapters.unit_of_work import Tx
from policy_service.domain.claims import Claim
from policy_service.domain.records import AsIssued, Policy


class FakeIdempotency:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, bool, str], StoredResponse] = {}

    def claim_many(
        self,
        partner_id: str,
        livemode: bool,
        entries: list[tuple[str, str, int, Answer]],
        now: datetime,
    ) -> set[str]:
        mine = set()
        for key, fp, status, body in entries:
            if (partner_id, livemode, key) not in self.rows:
                self.rows[partner_id, livemode, key] = StoredResponse(key, fp, status, *_kept(body))
                mine.add(key)
        return mine

    def update_response(
        self, partner_id: str, livemode: bool, key: str, status: int, body: Answer
    ) -> None:
        old = self.rows[partner_id, livemode, key]
        text, policy_id = _kept(body)
        self.rows[partner_id, livemode, key] = replace(
            old, status_code=status, body=text, policy_id=policy_id
        )

    def fetch_many(self, partner_id: str, livemode: bool, keys: list[str]) -> dict[str, Any]:
        return {
            k: self.rows[partner_id, livemode, k]
            for k in keys
            if (partner_id, livemode, k) in self.rows
        }


def _kept(body: Answer) -> tuple[str | None, str | None]:
    """(body, policy_id) as the SQL repository keeps an answer."""
    return (None, body.policy_id) if isinstance(body, AsIssued) else (body, None)


class FakePolicies:
    def __init__(self) -> None:
        self.rows: dict[str, Policy] = {}
        self.covers: dict[tuple[bool, str, str], str] = {}

    def insert_new(self, new: list[Policy]) -> set[str]:
        taken = {
            (p.partner_id, p.livemode, p.product_code, p.external_ref) for p in self.rows.values()
        }
        inserted = set()
        for p in new:
            ref = (p.partner_id, p.livemode, p.product_code, p.external_ref)
            if ref not in taken:
                self.rows[p.id] = p
                taken.add(ref)
                inserted.add(p.id)
        return inserted

    def lock_covers(
        self, partner_id: str, livemode: bool, locks: list[tuple[str, str, str]], now: datetime
    ) -> set[str]:
        got = set()
        for product, key, policy_id in locks:
            if (livemode, product, key) not in self.covers:
                self.covers[livemode, product, key] = policy_id
                got.add(policy_id)
        return got

    def release_covers(self, policy_ids: list[str]) -> None:
        self.covers = {k: v for k, v in self.covers.items() if v not in policy_ids}

    def delete(self, policy_ids: list[str]) -> None:
        for pid in policy_ids:
            self.rows.pop(pid, None)

    def ids_by_external_ref(
        self, partner_id: str, livemode: bool, product: str, refs: list[str]
    ) -> dict[str, str]:
        return {
            p.external_ref: p.id
            for p in self.rows.values()
            if (p.partner_id, p.livemode, p.product_code) == (partner_id, livemode, product)
            and p.external_ref in refs
        }

    def many(self, policy_ids: set[str]) -> dict[str, Policy]:
        return {pid: self.rows[pid] for pid in policy_ids if pid in self.rows}

    def get(
        self,
        partner_id: str | None,
        livemode: bool | None,
        policy_id: str,
        for_update: bool = False,
    ) -> Policy | None:
        p = self.rows.get(policy_id)
        if p is None or (
            partner_id is not None and (p.partner_id, p.livemode) != (partner_id, livemode)
        ):
            return None
        return p

    def update_cancelled(
        self, policy: Policy, new_status: str, reason: str, refund: Decimal, now: datetime
    ) -> bool:
        current = self.rows.get(policy.id)
        if current is None or current.status != policy.status:
            return False
        self.rows[policy.id] = replace(
            current,
            status=new_status,
            cancelled_at=now,
            cancel_reason=reason,
            refund_amount=refund,
            updated_at=now,
        )
        return True


class FakeClaims:
    def __init__(self) -> None:
        self.rows: dict[str, Claim] = {}
        self.audit_rows: list[dict[str, Any]] = []
        self.payouts: list[dict[str, Any]] = []

    def get(
        self,
        claim_id: str,
        partner_id: str | None = None,
        livemode: bool | None = None,
        for_update: bool = False,
    ) -> Claim | None:
        return self.rows.get(claim_id)

    def of_policy(self, policy_id: str, for_update: bool = False) -> list[Claim]:
        return [c for c in self.rows.values() if c.policy_id == policy_id]

    def update(self, claim: Claim, expected_status: str) -> bool:
        if self.rows[claim.id].status != expected_status:
            return False
        self.rows[claim.id] = claim
        return True

    def audit(self, rows: list[dict[str, Any]]) -> None:
        self.audit_rows += rows

    def insert_payouts(self, rows: list[dict[str, Any]]) -> None:
        self.payouts += rows


@dataclass
class FakeRecorder:
    """Repositories the use cases only write to: what they wrote, in order."""

    rows: list[Any] = field(default_factory=list)

    def insert_many(self, new: list[Any], dispatched: bool = False) -> None:  # events
        self.rows += new

    def insert_entries(self, rows: list[Any], payouts: list[Any] | None = None) -> None:  # ledger
        self.rows += rows

    def insert_subjects(self, rows: list[Any]) -> None:  # trigger subjects
        self.rows += rows


class FakePayments:
    def __init__(self) -> None:
        self.refunds: list[dict[str, Any]] = []

    def payment_of_policy(self, policy_id: str, for_update: bool = False) -> None:
        return None  # partner-settled: nothing charged through the payment API

    def insert_refund(self, row: dict[str, Any]) -> None:
        self.refunds.append(row)


class FakeWebhooks:
    """A partner's webhook endpoints (none here) and the deliveries fanned out to them."""

    def __init__(self) -> None:
        self.deliveries: list[dict[str, Any]] = []

    def enabled_endpoints_of(self, owners: set[tuple[str, bool]]) -> list[Any]:
        return []

    def insert_deliveries(self, rows: list[dict[str, Any]]) -> None:
        self.deliveries += rows


class FakeTx:
    """What a use case sees as `tx`: the fake repositories (shared across transactions)."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.idempotency = uow.idempotency
        self.policies = uow.policies
        self.claims = uow.claims
        self.events = uow.events
        self.ledger = uow.ledger
        self.triggers = uow.triggers
        self.payments = uow.payments
        self.webhooks = uow.webhooks

    @contextmanager
    def held_inserts(self, hold: bool = True) -> Iterator[Callable[[], bool]]:
        yield lambda: True  # nothing to hold: every insert is applied at once


class FakeUnitOfWork:
    """Counts the transactions that ended well; unlike the SQL one it does not undo what a
    block wrote before it raised (the tests look at what succeeded)."""

    def __init__(self) -> None:
        self.idempotency = FakeIdempotency()
        self.policies = FakePolicies()
        self.claims = FakeClaims()
        self.events = FakeRecorder()
        self.ledger = FakeRecorder()
        self.triggers = FakeRecorder()
        self.payments = FakePayments()
        self.webhooks = FakeWebhooks()
        self.committed = 0

    @contextmanager
    def write(self) -> Iterator[Tx]:
        yield FakeTx(self)  # type: ignore[misc]
        self.committed += 1

    @contextmanager
    def read(self) -> Iterator[Tx]:
        yield FakeTx(self)  # type: ignore[misc]
