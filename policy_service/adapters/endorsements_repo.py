"""Endorsements: each change of a policy after issue, before and after."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from policy_service.domain.records import Endorsement, Premium

from .sql import from_minor, insert_rows, to_minor
from .tables import policy_endorsements as E

_PARTS = ("total", "net", "tax", "commission", "fees")


def _premium(row: Any, side: str) -> Premium:
    c = row.currency
    total, net, tax, commission, fees = (from_minor(getattr(row, f"{side}_{p}"), c) for p in _PARTS)
    return Premium(c, total, net, tax, commission, fees)


def from_row(row: Any) -> Endorsement:
    return Endorsement(
        id=row.id,
        partner_id=row.partner_id,
        livemode=row.livemode,
        policy_id=row.policy_id,
        version=row.version,
        risk_before=row.risk_before,
        risk_after=row.risk_after,
        holder_before=row.holder_before,
        holder_after=row.holder_after,
        premium_before=_premium(row, "before"),
        premium_after=_premium(row, "after"),
        coverage_before=(row.coverage_start_before, row.coverage_end_before),
        coverage_after=(row.coverage_start_after, row.coverage_end_after),
        created_at=row.created_at,
    )


def _row(e: Endorsement) -> dict[str, Any]:
    c = e.premium_after.currency
    row: dict[str, Any] = {
        "id": e.id,
        "partner_id": e.partner_id,
        "livemode": e.livemode,
        "policy_id": e.policy_id,
        "version": e.version,
        "risk_before": e.risk_before,
        "risk_after": e.risk_after,
        "holder_before": e.holder_before,
        "holder_after": e.holder_after,
        "currency": c,
        "coverage_start_before": e.coverage_before[0],
        "coverage_end_before": e.coverage_before[1],
        "coverage_start_after": e.coverage_after[0],
        "coverage_end_after": e.coverage_after[1],
        "created_at": e.created_at,
    }
    for side, premium in (("before", e.premium_before), ("after", e.premium_after)):
        for part in _PARTS:
            row[f"{side}_{part}"] = to_minor(getattr(premium, part), c)
    return row


class EndorsementsRepository:
    """Endorsements: the queries, on the connection of one unit of work."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def insert(self, endorsement: Endorsement) -> None:
        insert_rows(self.conn, E, [_row(endorsement)], ignore_conflicts=False)

    def of_policy(self, policy_id: str) -> list[Endorsement]:
        """Oldest first."""
        rows = self.conn.execute(
            sa.select(E).where(E.c.policy_id == policy_id).order_by(E.c.version)
        )
        return [from_row(r) for r in rows]

    def get(self, partner_id: str, livemode: bool, endorsement_id: str) -> Endorsement | None:
        row = self.conn.execute(
            sa.select(E).where(
                E.c.id == endorsement_id, E.c.partner_id == partner_id, E.c.livemode == livemode
            )
        ).first()
        return None if row is None else from_row(row)

    def firsts(self, policy_ids: set[str]) -> dict[str, Endorsement]:
        """The first endorsement of each of these policies (their "before" is the policy as
        issued), by policy id."""
        if not policy_ids:
            return {}
        rows = self.conn.execute(
            sa.select(E).where(E.c.policy_id.in_(sorted(policy_ids)), E.c.version == 2)
        )
        return {r.policy_id: from_row(r) for r in rows}
