"""Ledger entries and closed statements."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from policy_service.domain.ledger import Entry

from .sql import insert_ignoring_conflicts, insert_rows
from .tables import ledger_entries as L
from .tables import policies, statements


def _line_query(where: Any) -> Any:
    return (
        sa.select(
            L.c.policy_id,
            policies.c.external_ref,
            policies.c.product_code,
            L.c.currency,
            sa.func.min(L.c.period).label("first_period"),
            # an endorsement's difference is more premium, or premium given back
            sa.func.sum(
                sa.case(
                    (L.c.kind == "premium", L.c.amount),
                    ((L.c.kind == "endorsement") & (L.c.amount > 0), L.c.amount),
                    else_=0,
                )
            ).label("premium"),
            sa.func.sum(
                sa.case(
                    (L.c.kind == "refund", -L.c.amount),
                    ((L.c.kind == "endorsement") & (L.c.amount < 0), -L.c.amount),
                    else_=0,
                )
            ).label("refund"),
            sa.func.sum(sa.case((L.c.kind == "payout", -L.c.amount), else_=0)).label("payout"),
            sa.func.sum(L.c.tax).label("tax"),
            sa.func.sum(L.c.commission).label("commission"),
            sa.func.sum(L.c.fees).label("fees"),
            sa.func.sum(sa.case((L.c.collected_by == "partner", L.c.amount), else_=0)).label(
                "collected_by_partner"
            ),
        )
        .join(policies, policies.c.id == L.c.policy_id)
        .where(where)
        .group_by(L.c.policy_id, policies.c.external_ref, policies.c.product_code, L.c.currency)
        .order_by(L.c.policy_id)
    )


class LedgerRepository:
    """Ledger entries and closed statements: the queries, on the connection of one unit of work."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def insert_entries(
        self,
        rows: list[tuple[str, str, bool, str, Entry, datetime, str]],
        payouts: list[tuple[str, str]] | None = None,
        endorsement_id: str | None = None,
    ) -> None:
        """(partner_id, policy_id, livemode, collected_by, entry, occurred_at, period) rows, with
        the (claim, payout) of each payout entry, or the endorsement an endorsement entry
        books. Unique indexes make a second premium or refund of a policy, or a second entry
        of one payout or endorsement, impossible (a repeat is skipped)."""
        insert_rows(
            self.conn,
            L,
            [
                {
                    "partner_id": partner_id,
                    "livemode": livemode,
                    "policy_id": policy_id,
                    "kind": e.kind,
                    "collected_by": collected_by,
                    "currency": e.currency,
                    "amount": e.amount,
                    "tax": e.tax,
                    "commission": e.commission,
                    "fees": e.fees,
                    "net": e.net,
                    "occurred_at": occurred_at,
                    "period": period,
                    "claim_id": payouts[i][0] if payouts else None,
                    "payout_id": payouts[i][1] if payouts else None,
                    "endorsement_id": endorsement_id,
                }
                for i, (partner_id, policy_id, livemode, collected_by, e, occurred_at, period) in (
                    enumerate(rows)
                )
            ],
            ignore_conflicts=True,
        )

    def open_lines(self, partner_id: str, livemode: bool, through_period: str) -> list[sa.Row[Any]]:
        """Lines of the entries not yet on a closed statement, up to a period."""
        return list(
            self.conn.execute(
                _line_query(
                    sa.and_(
                        L.c.partner_id == partner_id,
                        L.c.livemode == livemode,
                        L.c.statement_id.is_(None),
                        L.c.period <= through_period,
                    )
                )
            )
        )

    def statement_lines(self, statement_id: str) -> list[sa.Row[Any]]:
        return list(self.conn.execute(_line_query(L.c.statement_id == statement_id)))

    def earliest_unsettled_period(self, partner_id: str, livemode: bool) -> str | None:
        return self.conn.execute(
            sa.select(sa.func.min(L.c.period)).where(
                L.c.partner_id == partner_id, L.c.livemode == livemode, L.c.statement_id.is_(None)
            )
        ).scalar()

    def insert_statement(self, row: dict[str, Any]) -> bool:
        stmt = (
            insert_ignoring_conflicts(self.conn, statements)
            .values(**row)
            .returning(statements.c.id)
        )
        return self.conn.execute(stmt).first() is not None

    def assign(
        self, partner_id: str, livemode: bool, through_period: str, statement_id: str
    ) -> None:
        self.conn.execute(
            L.update()
            .where(
                L.c.partner_id == partner_id,
                L.c.livemode == livemode,
                L.c.statement_id.is_(None),
                L.c.period <= through_period,
            )
            .values(statement_id=statement_id)
        )

    def get_statement(
        self,
        partner_id: str,
        livemode: bool,
        statement_id: str | None = None,
        period: str | None = None,
    ) -> sa.Row[Any] | None:
        stmt = sa.select(statements).where(
            statements.c.partner_id == partner_id, statements.c.livemode == livemode
        )
        if statement_id is not None:
            stmt = stmt.where(statements.c.id == statement_id)
        if period is not None:
            stmt = stmt.where(statements.c.period == period)
        return self.conn.execute(stmt).first()

    def list_statements(self, partner_id: str, livemode: bool) -> list[sa.Row[Any]]:
        """A partner's closed statements, newest month first."""
        return list(
            self.conn.execute(
                sa.select(statements)
                .where(statements.c.partner_id == partner_id, statements.c.livemode == livemode)
                .order_by(statements.c.period.desc())
            )
        )

    def set_totals(self, statement_id: str, totals: list[dict[str, Any]], line_count: int) -> None:
        """Written once, in the transaction that closes the statement."""
        self.conn.execute(
            statements.update()
            .where(statements.c.id == statement_id)
            .values(totals=totals, line_count=line_count)
        )
