"""Payments (premiums charged through the payment API) and refunds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from .tables import payments as P
from .tables import refunds as R


def insert_payment(conn: sa.Connection, row: dict[str, Any]) -> None:
    conn.execute(P.insert().values(**row))


def payment_of_policy(
    conn: sa.Connection, policy_id: str, for_update: bool = False
) -> sa.Row[Any] | None:
    stmt = sa.select(P).where(P.c.policy_id == policy_id)
    if for_update:
        stmt = stmt.with_for_update()
    return conn.execute(stmt).first()


def payment_by_intent(conn: sa.Connection, payment_intent: str) -> sa.Row[Any] | None:
    return conn.execute(sa.select(P).where(P.c.payment_intent == payment_intent)).first()


UNFINISHED = ("creating", "confirming", "unknown")


def update_payment(conn: sa.Connection, payment_id: str, **values: Any) -> bool:
    """Only an unfinished payment is changed: a late writer never reopens a finished one."""
    result = conn.execute(
        P.update().where(P.c.id == payment_id, P.c.status.in_(UNFINISHED)).values(**values)
    )
    return result.rowcount == 1


def claim_payment(
    conn: sa.Connection, payment_id: str, now: datetime, idle_since: datetime
) -> bool:
    """Take an unfinished payment for one run of the charge flow. Nobody else may drive it
    until it has been idle since `idle_since` (a request still running holds it)."""
    result = conn.execute(
        P.update()
        .where(P.c.id == payment_id, P.c.status.in_(UNFINISHED), P.c.updated_at <= idle_since)
        .values(updated_at=now)
    )
    return result.rowcount == 1


def finish_payment(conn: sa.Connection, payment_id: str, status: str, **values: Any) -> bool:
    """Compare-and-set: only an unfinished payment becomes succeeded or failed, once."""
    result = conn.execute(
        P.update()
        .where(P.c.id == payment_id, P.c.status.in_(UNFINISHED))
        .values(status=status, **values)
    )
    return result.rowcount == 1


def unfinished_payments(conn: sa.Connection, older_than: datetime, limit: int) -> list[sa.Row[Any]]:
    stmt = (
        sa.select(P)
        .where(P.c.status.in_(UNFINISHED), P.c.updated_at < older_than)
        .order_by(P.c.updated_at)
        .limit(limit)
    )
    return list(conn.execute(stmt))


def insert_refund(conn: sa.Connection, row: dict[str, Any]) -> None:
    conn.execute(R.insert().values(**row))


def refund_of_policy(conn: sa.Connection, policy_id: str) -> sa.Row[Any] | None:
    return conn.execute(sa.select(R).where(R.c.policy_id == policy_id)).first()


def pending_refunds(conn: sa.Connection, idle_since: datetime, limit: int) -> list[sa.Row[Any]]:
    stmt = (
        sa.select(R)
        .where(R.c.status == "pending", R.c.updated_at <= idle_since)
        .order_by(R.c.updated_at)
        .limit(limit)
    )
    return list(conn.execute(stmt))


def claim_refund(conn: sa.Connection, refund_id: str, now: datetime, idle_since: datetime) -> bool:
    result = conn.execute(
        R.update()
        .where(R.c.id == refund_id, R.c.status == "pending", R.c.updated_at <= idle_since)
        .values(updated_at=now)
    )
    return result.rowcount == 1


def update_refund(conn: sa.Connection, refund_id: str, **values: Any) -> None:
    conn.execute(R.update().where(R.c.id == refund_id).values(**values))


def finish_refund(conn: sa.Connection, refund_id: str, **values: Any) -> bool:
    result = conn.execute(
        R.update().where(R.c.id == refund_id, R.c.status == "pending").values(**values)
    )
    return result.rowcount == 1
