"""The rows an export takes, a batch at a time, in the order it resumes by.

Policies and claims change after they are written (a cancellation, a decision), so they
are read by (updated_at, id): a row changed since the last export is taken again, and the
reader keeps each one's latest version. Ledger entries never change: they are read by id.
Personal data stays behind: a policy leaves with its keyed ID hash only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from .tables import claims, ledger_entries, policies, trigger_events

P, C, L, TE = policies, claims, ledger_entries, trigger_events

#: what a policy leaves with (no name, phone, ID number's last 4 or free text)
POLICY_COLUMNS = (
    P.c.id,
    P.c.partner_id,
    P.c.livemode,
    P.c.product_code,
    P.c.edition_id,
    P.c.content_hash,
    P.c.status,
    P.c.risk,
    P.c.policyholder_id_hash,
    P.c.currency,
    P.c.premium_total,
    P.c.premium_net,
    P.c.premium_tax,
    P.c.premium_commission,
    P.c.premium_fees,
    P.c.refund_amount,
    P.c.coverage_start,
    P.c.coverage_end,
    P.c.priced_at,
    P.c.worksheet,
    P.c.created_at,
    P.c.updated_at,
    P.c.cancelled_at,
    P.c.cancel_reason,
    P.c.version,
)

#: a claim's figures and dates, the report that decided it (its type and facts, whose
#: identifiers the export hashes), and when its policy was sold (its partition)
CLAIM_COLUMNS = (
    C.c.id,
    C.c.partner_id,
    C.c.livemode,
    C.c.policy_id,
    C.c.product_code,
    C.c.edition_id,
    C.c.origin,
    C.c.type,
    C.c.status,
    C.c.currency,
    C.c.amount_claimed,
    C.c.amount_approved,
    C.c.amount_paid,
    C.c.trigger_event_id,
    C.c.event_time,
    C.c.observed_at,
    C.c.decided_at,
    C.c.reject_code,
    C.c.paid_at,
    C.c.created_at,
    C.c.updated_at,
    P.c.created_at.label("policy_created_at"),
    TE.c.type.label("trigger_type"),
    TE.c.data.label("trigger_data"),
)

LEDGER_COLUMNS = (
    L.c.id,
    L.c.partner_id,
    L.c.livemode,
    L.c.policy_id,
    P.c.product_code,
    L.c.kind,
    L.c.claim_id,
    L.c.endorsement_id,
    L.c.collected_by,
    L.c.currency,
    L.c.amount,
    L.c.tax,
    L.c.commission,
    L.c.fees,
    L.c.net,
    L.c.occurred_at,
    L.c.period,
)


class ExportRepository:
    """The rows an export takes: the queries, on the connection of one unit of work."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def policies_after(
        self,
        after: tuple[datetime, str] | None,
        until: datetime,
        since: datetime | None,
        limit: int,
    ) -> list[sa.Row[Any]]:
        """Policies changed after `after` (updated_at, id) and at `until` at the latest."""
        return self._changed(
            sa.select(*POLICY_COLUMNS), P.c.updated_at, P.c.id, P.c.created_at,
            after, until, since, limit,
        )  # fmt: skip

    def claims_after(
        self,
        after: tuple[datetime, str] | None,
        until: datetime,
        since: datetime | None,
        limit: int,
    ) -> list[sa.Row[Any]]:
        stmt = (
            sa.select(*CLAIM_COLUMNS)
            .join(P, P.c.id == C.c.policy_id)
            .outerjoin(TE, TE.c.id == C.c.trigger_event_id)
        )
        return self._changed(
            stmt, C.c.updated_at, C.c.id, P.c.created_at, after, until, since, limit
        )

    def ledger_after(
        self, after: int | None, until: datetime, since: datetime | None, limit: int
    ) -> list[sa.Row[Any]]:
        """Ledger entries after id `after`, in id order, up to the first one booked after
        `until` (not past it: an entry booked earlier may hold a higher id, and the next
        run starts after the last id taken); before `since`, skipped."""
        stmt = sa.select(*LEDGER_COLUMNS).join(P, P.c.id == L.c.policy_id)
        if after is not None:
            stmt = stmt.where(L.c.id > after)
        if since is not None:
            stmt = stmt.where(L.c.occurred_at >= since)
        rows: list[sa.Row[Any]] = list(self.conn.execute(stmt.order_by(L.c.id).limit(limit)))
        for i, row in enumerate(rows):
            if row.occurred_at > until:
                return rows[:i]
        return rows

    def _changed(
        self,
        stmt: sa.Select[Any],
        updated: sa.ColumnElement[Any],
        key: sa.ColumnElement[Any],
        created: sa.ColumnElement[Any],
        after: tuple[datetime, str] | None,
        until: datetime,
        since: datetime | None,
        limit: int,
    ) -> list[sa.Row[Any]]:
        stmt = stmt.where(updated <= until)
        if after is not None:
            stmt = stmt.where(sa.tuple_(updated, key) > sa.tuple_(*after))
        if since is not None:
            stmt = stmt.where(created >= since)
        return list(self.conn.execute(stmt.order_by(updated, key).limit(limit)))
