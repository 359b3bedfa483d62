"""Payments (premiums charged through the payment API) and refunds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from .tables import payments as P
from .tables import refunds as R

UNFINISHED = ("creating", "confirming", "unknown")


class PaymentsRepository:
    """Payments (premiums charged through the payment API) and refunds: the queries, on the connection of one unit of work."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def get_payment(self, payment_id: str, lock: bool = False) -> sa.Row[Any]:
        """A payment; `lock` holds it (NO KEY UPDATE on PostgreSQL: a refund row referring to
        it may still be inserted meanwhile)."""
        stmt = sa.select(P).where(P.c.id == payment_id)
        if lock and self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(key_share=True)
        return self.conn.execute(stmt).one()

    def get_refund(self, refund_id: str) -> sa.Row[Any]:
        return self.conn.execute(sa.select(R).where(R.c.id == refund_id)).one()

    def insert_payment(self, row: dict[str, Any]) -> None:
        self.conn.execute(P.insert().values(**row))

    def payment_of_policy(self, policy_id: str, for_update: bool = False) -> sa.Row[Any] | None:
        """The payment of a policy's premium (not of its endorsements)."""
        stmt = sa.select(P).where(P.c.policy_id == policy_id, P.c.purpose == "premium")
        if for_update:
            stmt = stmt.with_for_update()
        return self.conn.execute(stmt).first()

    def payment_by_intent(self, payment_intent: str) -> sa.Row[Any] | None:
        return self.conn.execute(sa.select(P).where(P.c.payment_intent == payment_intent)).first()

    def update_payment(self, payment_id: str, **values: Any) -> bool:
        """Only an unfinished payment is changed: a late writer never reopens a finished one."""
        result = self.conn.execute(
            P.update().where(P.c.id == payment_id, P.c.status.in_(UNFINISHED)).values(**values)
        )
        return result.rowcount == 1

    def record_intent(self, payment_id: str, payment_intent: str) -> None:
        """The PaymentIntent of a payment, whatever its status (a charge landed late)."""
        self.conn.execute(
            P.update().where(P.c.id == payment_id).values(payment_intent=payment_intent)
        )

    def claim_payment(self, payment_id: str, now: datetime, idle_since: datetime) -> bool:
        """Take an unfinished payment for one run of the charge flow. Nobody else may drive it
        until it has been idle since `idle_since` (a request still running holds it)."""
        result = self.conn.execute(
            P.update()
            .where(P.c.id == payment_id, P.c.status.in_(UNFINISHED), P.c.updated_at <= idle_since)
            .values(updated_at=now)
        )
        return result.rowcount == 1

    def finish_payment(self, payment_id: str, status: str, **values: Any) -> bool:
        """Compare-and-set: only an unfinished payment becomes succeeded or failed, once."""
        result = self.conn.execute(
            P.update()
            .where(P.c.id == payment_id, P.c.status.in_(UNFINISHED))
            .values(status=status, **values)
        )
        return result.rowcount == 1

    def unfinished_payments(self, older_than: datetime, limit: int) -> list[sa.Row[Any]]:
        stmt = (
            sa.select(P)
            .where(P.c.status.in_(UNFINISHED), P.c.updated_at < older_than)
            .order_by(P.c.updated_at)
            .limit(limit)
        )
        return list(self.conn.execute(stmt))

    def insert_refund(self, row: dict[str, Any]) -> None:
        self.conn.execute(R.insert().values(**row))

    def refund_of_policy(self, policy_id: str) -> sa.Row[Any] | None:
        """The refund of a policy's premium (a cancellation's, or a late charge's)."""
        return self.conn.execute(
            sa.select(R).where(R.c.policy_id == policy_id, R.c.kind == "premium")
        ).first()

    def charges_of_policy(self, policy_id: str) -> list[sa.Row[Any]]:
        """A policy's succeeded payments (premium, then endorsements), oldest first."""
        return list(
            self.conn.execute(
                sa.select(P)
                .where(P.c.policy_id == policy_id, P.c.status == "succeeded")
                .order_by(P.c.created_at, P.c.id)
            )
        )

    def refunds_of_policy(self, policy_id: str) -> list[sa.Row[Any]]:
        """Every refund of a policy, whatever its kind and status."""
        return list(self.conn.execute(sa.select(R).where(R.c.policy_id == policy_id)))

    def returned_refund(self, payment_id: str) -> sa.Row[Any] | None:
        """The refund giving an endorsement's charge back, if there is one."""
        return self.conn.execute(
            sa.select(R).where(R.c.payment_id == payment_id, R.c.kind == "returned")
        ).first()

    def record_endorsement(self, payment_id: str, endorsement_id: str) -> None:
        """The endorsement an endorsement's payment paid for, once applied."""
        self.conn.execute(
            P.update().where(P.c.id == payment_id).values(endorsement_id=endorsement_id)
        )

    def pending_refunds(self, idle_since: datetime, limit: int) -> list[sa.Row[Any]]:
        stmt = (
            sa.select(R)
            .where(R.c.status == "pending", R.c.updated_at <= idle_since)
            .order_by(R.c.updated_at)
            .limit(limit)
        )
        return list(self.conn.execute(stmt))

    def claim_refund(self, refund_id: str, now: datetime, idle_since: datetime) -> bool:
        result = self.conn.execute(
            R.update()
            .where(R.c.id == refund_id, R.c.status == "pending", R.c.updated_at <= idle_since)
            .values(updated_at=now)
        )
        return result.rowcount == 1

    def update_refund(self, refund_id: str, **values: Any) -> None:
        self.conn.execute(R.update().where(R.c.id == refund_id).values(**values))

    def finish_refund(self, refund_id: str, **values: Any) -> bool:
        result = self.conn.execute(
            R.update().where(R.c.id == refund_id, R.c.status == "pending").values(**values)
        )
        return result.rowcount == 1
