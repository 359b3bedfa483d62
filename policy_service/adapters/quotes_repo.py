"""Quotes: a priced risk, held until it expires."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from policy_service.domain.records import Premium, Quote

from .sql import counted_stream, from_minor, insert_rows, to_minor
from .tables import policies, quotes


def premium_columns(p: Premium) -> dict[str, Any]:
    c = p.currency
    return {
        "currency": c,
        "premium_total": to_minor(p.total, c),
        "premium_net": to_minor(p.net, c),
        "premium_tax": to_minor(p.tax, c),
        "premium_commission": to_minor(p.commission, c),
        "premium_fees": to_minor(p.fees, c),
    }


def premium_from_row(row: Any) -> Premium:
    c = row.currency
    return Premium(
        c,
        from_minor(row.premium_total, c),
        from_minor(row.premium_net, c),
        from_minor(row.premium_tax, c),
        from_minor(row.premium_commission, c),
        from_minor(row.premium_fees, c),
    )


class QuotesRepository:
    """Quotes: a priced risk, held until it expires: the queries, on the connection of one unit of work."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def insert(self, q: Quote) -> None:
        # the prepared insert of adapters/sql.py: no statement built and compiled per quote
        row = {
            "id": q.id,
            "partner_id": q.partner_id,
            "livemode": q.livemode,
            "product_code": q.product_code,
            "edition_id": f"{q.product_code}/{q.edition}",
            "content_hash": q.content_hash,
            "external_ref": q.external_ref,
            "risk": q.risk,
            "worksheet": q.worksheet,
            "coverage_start": q.coverage_start,
            "coverage_end": q.coverage_end,
            "expires_at": q.expires_at,
            "created_at": q.created_at,
            **premium_columns(q.premium),
        }
        insert_rows(self.conn, quotes, [row], ignore_conflicts=False)

    def get(self, partner_id: str, livemode: bool, quote_id: str) -> Quote | None:
        row = self.conn.execute(
            sa.select(quotes).where(
                quotes.c.id == quote_id,
                quotes.c.partner_id == partner_id,
                quotes.c.livemode == livemode,
            )
        ).first()
        if row is None:
            return None
        return Quote(
            id=row.id,
            partner_id=row.partner_id,
            livemode=row.livemode,
            product_code=row.product_code,
            edition=row.edition_id.split("/", 1)[1],
            content_hash=row.content_hash,
            external_ref=row.external_ref,
            risk=row.risk,
            premium=premium_from_row(row),
            worksheet=row.worksheet,
            coverage_start=row.coverage_start,
            coverage_end=row.coverage_end,
            expires_at=row.expires_at,
            created_at=row.created_at,
        )

    def policy_for_quote(self, quote_id: str) -> str | None:
        return self.conn.execute(
            sa.select(policies.c.id).where(policies.c.quote_id == quote_id)
        ).scalar()

    def book_rows(
        self, product: str, created_from: Any, livemode: bool | None
    ) -> tuple[int, Iterator[sa.Row[Any]]]:
        """How many, and a stream of, the risks of a product's quotes and when each was
        made (impact analysis)."""
        where = [quotes.c.product_code == product]
        if created_from is not None:
            where.append(quotes.c.created_at >= created_from)
        if livemode is not None:
            where.append(quotes.c.livemode == livemode)
        return counted_stream(
            self.conn, sa.select(quotes.c.risk, quotes.c.created_at).where(*where), quotes.c.id
        )
