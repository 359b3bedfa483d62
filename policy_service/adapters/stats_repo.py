"""Aggregates for the ops dashboard, grouped in the database (never row by row)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from .tables import claims, policies

P = policies
C = claims

#: a policy counts as sold once it is paid for or partner-settled
_SOLD = ("active", "expired", "cancelled")


def _premium_ex_tax() -> Any:
    return P.c.premium_total - P.c.premium_tax


class StatsRepository:
    """Aggregates for the ops dashboard, grouped in the database (never row by row): the queries, on the connection of one unit of work."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def local_day(self, column: Any, tz: str, now: datetime) -> Any:
        """The calendar day (YYYY-MM-DD) of a UTC timestamp column in time zone `tz`."""
        if self.conn.dialect.name == "postgresql":
            return sa.func.to_char(sa.func.timezone(tz, column), "YYYY-MM-DD")
        # SQLite keeps naive UTC text and knows no zones: shift by the zone's offset now
        # (exact for zones without daylight saving, such as Asia/Shanghai).
        offset = ZoneInfo(tz).utcoffset(now.replace(tzinfo=None))
        minutes = int(offset.total_seconds() // 60) if offset else 0
        return sa.func.strftime("%Y-%m-%d", column, f"{minutes:+d} minutes")

    def policies_per_day(
        self, since: datetime, tz: str, now: datetime, livemode: bool
    ) -> list[Any]:
        """(day, currency, policies, premium_total minor) of policies sold since `since`."""
        day = self.local_day(P.c.created_at, tz, now).label("day")
        stmt = (
            sa.select(day, P.c.currency, sa.func.count(), sa.func.sum(P.c.premium_total))
            .where(P.c.created_at >= since, P.c.livemode == livemode, P.c.status.in_(_SOLD))
            .group_by(day, P.c.currency)
        )
        return list(self.conn.execute(stmt))

    def claims_per_day(self, since: datetime, tz: str, now: datetime, livemode: bool) -> list[Any]:
        """(day, how, claims) of claims opened since `since`; how is auto, staff or open."""
        day = self.local_day(C.c.created_at, tz, now).label("day")
        how = sa.case(
            (C.c.decided_by.is_(None), "open"),
            (C.c.decided_by == "system", "auto"),
            else_="staff",
        ).label("how")
        stmt = (
            sa.select(day, how, sa.func.count())
            .where(C.c.created_at >= since, C.c.livemode == livemode)
            .group_by(day, how)
        )
        return list(self.conn.execute(stmt))

    def decided_by_kind(self, since: datetime, livemode: bool) -> dict[str, int]:
        """Claims decided since `since`: by the rules (auto) or by a person (staff)."""
        how = sa.case((C.c.decided_by == "system", "auto"), else_="staff").label("how")
        rows = self.conn.execute(
            sa.select(how, sa.func.count())
            .where(C.c.decided_at >= since, C.c.livemode == livemode)
            .group_by(how)
        )
        return {kind: n for kind, n in rows}

    def paid_claims(self, livemode: bool) -> list[Any]:
        """(product, edition_id, currency, claims, amount_paid minor) of paid claims."""
        stmt = (
            sa.select(
                C.c.product_code,
                C.c.edition_id,
                C.c.currency,
                sa.func.count(),
                sa.func.sum(C.c.amount_paid),
            )
            .where(C.c.status == "paid", C.c.livemode == livemode)
            .group_by(C.c.product_code, C.c.edition_id, C.c.currency)
        )
        return list(self.conn.execute(stmt))

    def fully_earned(self, now: datetime, livemode: bool) -> list[Any]:
        """(product, edition_id, currency, premium ex tax minor) of policies whose cover has
        ended (cancelled ones apart: see cancelled())."""
        stmt = (
            sa.select(
                P.c.product_code, P.c.edition_id, P.c.currency, sa.func.sum(_premium_ex_tax())
            )
            .where(
                P.c.livemode == livemode,
                P.c.status.in_(("active", "expired")),
                P.c.coverage_end <= now,
            )
            .group_by(P.c.product_code, P.c.edition_id, P.c.currency)
        )
        return list(self.conn.execute(stmt))

    def cancelled(self, livemode: bool) -> list[Any]:
        """Cancelled policies with their premium, tax and refund (minor units): the refund
        returned part of the premium, tax included."""
        stmt = sa.select(
            P.c.product_code,
            P.c.edition_id,
            P.c.currency,
            P.c.premium_total,
            P.c.premium_tax,
            P.c.refund_amount,
        ).where(P.c.livemode == livemode, P.c.status == "cancelled")
        return list(self.conn.execute(stmt))

    def in_force(self, now: datetime, livemode: bool) -> list[Any]:
        """Sold policies whose cover runs now, for a pro-rata share of their premium (covers
        last hours or days, so this set stays small)."""
        stmt = sa.select(
            P.c.product_code,
            P.c.edition_id,
            P.c.currency,
            _premium_ex_tax().label("premium"),
            P.c.coverage_start,
            P.c.coverage_end,
        ).where(
            P.c.livemode == livemode,
            P.c.status == "active",
            P.c.coverage_start < now,
            P.c.coverage_end > now,
        )
        return list(self.conn.execute(stmt))

    def review_backlog(self, livemode: bool) -> tuple[int, datetime | None, int]:
        """Claims in review: how many, the oldest's creation time, and how many wait for a
        second approval."""
        row = self.conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.min(C.c.created_at),
                # a JSON column may hold JSON null rather than SQL NULL
                sa.func.count(sa.case((sa.cast(C.c.first_approval, sa.Text) != "null", 1))),
            ).where(C.c.status == "in_review", C.c.livemode == livemode)
        ).one()
        # min() keeps the column's type: an aware UTC datetime on both databases
        return row[0], row[1], row[2]
