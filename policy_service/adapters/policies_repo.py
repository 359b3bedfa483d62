"""Policies and the cover locks that keep one subject from being insured twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from policy_service.domain.policyholder import HolderMatch, Policyholder
from policy_service.domain.records import Policy

from .quotes_repo import premium_columns, premium_from_row
from .sql import among, counted_stream, from_minor, insert_many_returning, keyset_page, to_minor
from .tables import cover_locks, policies


def _row(p: Policy) -> dict[str, Any]:
    ph = p.policyholder
    return {
        "id": p.id,
        "partner_id": p.partner_id,
        "livemode": p.livemode,
        "product_code": p.product_code,
        "edition_id": f"{p.product_code}/{p.edition}",
        "content_hash": p.content_hash,
        "quote_id": p.quote_id,
        "external_ref": p.external_ref,
        "status": p.status,
        "risk": p.risk,
        "policyholder_name": ph.name if ph else None,
        "policyholder_id_type": ph.id_type if ph else None,
        "policyholder_id_hash": ph.id_hash if ph else None,
        "policyholder_id_last4": ph.id_last4 if ph else None,
        "policyholder_phone": ph.phone if ph else None,
        "worksheet": p.worksheet,
        "priced_at": p.priced_at,
        "coverage_start": p.coverage_start,
        "coverage_end": p.coverage_end,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "cancelled_at": p.cancelled_at,
        "cancel_reason": p.cancel_reason,
        "payment_intent": p.payment_intent,
        "version": p.version,
        "refund_amount": None
        if p.refund_amount is None
        else to_minor(p.refund_amount, p.premium.currency),
        **premium_columns(p.premium),
    }


def from_row(row: Any) -> Policy:
    holder = None
    if row.policyholder_id_hash is not None:
        holder = Policyholder(
            row.policyholder_name,
            row.policyholder_id_type,
            row.policyholder_id_hash,
            row.policyholder_id_last4,
            row.policyholder_phone,
        )
    return Policy(
        id=row.id,
        partner_id=row.partner_id,
        livemode=row.livemode,
        product_code=row.product_code,
        edition=row.edition_id.split("/", 1)[1],
        content_hash=row.content_hash,
        quote_id=row.quote_id,
        external_ref=row.external_ref,
        status=row.status,
        risk=row.risk,
        policyholder=holder,
        premium=premium_from_row(row),
        worksheet=row.worksheet,
        priced_at=row.priced_at,
        coverage_start=row.coverage_start,
        coverage_end=row.coverage_end,
        created_at=row.created_at,
        updated_at=row.updated_at,
        cancelled_at=row.cancelled_at,
        cancel_reason=row.cancel_reason,
        refund_amount=None
        if row.refund_amount is None
        else from_minor(row.refund_amount, row.currency),
        payment_intent=row.payment_intent,
        version=row.version,
    )


class PoliciesRepository:
    """Policies and the cover locks that keep one subject from being insured twice: the queries, on the connection of one unit of work."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def insert_new(self, new: list[Policy]) -> set[str]:
        """Multi-row insert; returns the ids inserted. Rows that hit a unique constraint
        (external_ref or quote already used) are skipped, not raised."""
        return insert_many_returning(self.conn, policies, [_row(p) for p in new], "id")

    def lock_covers(
        self, partner_id: str, livemode: bool, locks: list[tuple[str, str, str]], now: datetime
    ) -> set[str]:
        """Insert the partner's (product_code, cover_key, policy_id) locks; returns the
        policy ids that got theirs."""
        rows = [
            {
                "partner_id": partner_id,
                "livemode": livemode,
                "product_code": product,
                "cover_key": key,
                "policy_id": policy_id,
                "created_at": now,
            }
            for product, key, policy_id in locks
        ]
        return insert_many_returning(self.conn, cover_locks, rows, "policy_id")

    def release_covers(self, policy_ids: list[str]) -> None:
        if policy_ids:
            self.conn.execute(cover_locks.delete().where(cover_locks.c.policy_id.in_(policy_ids)))

    def delete(self, policy_ids: list[str]) -> None:
        if policy_ids:
            self.conn.execute(policies.delete().where(policies.c.id.in_(policy_ids)))

    def ids_by_external_ref(
        self, partner_id: str, livemode: bool, product: str, refs: list[str]
    ) -> dict[str, str]:
        rows = self.conn.execute(
            sa.select(policies.c.external_ref, policies.c.id).where(
                policies.c.partner_id == partner_id,
                policies.c.livemode == livemode,
                policies.c.product_code == product,
                policies.c.external_ref.in_(refs),
                policies.c.status != "payment_failed",
            )
        )
        return {r.external_ref: r.id for r in rows}

    def get(
        self,
        partner_id: str | None,
        livemode: bool | None,
        policy_id: str,
        for_update: bool = False,
    ) -> Policy | None:
        """A partner's policy; with partner_id None, a policy of any partner (ops)."""
        stmt = sa.select(policies).where(policies.c.id == policy_id)
        if partner_id is not None:
            stmt = stmt.where(policies.c.partner_id == partner_id, policies.c.livemode == livemode)
        if for_update:
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).first()
        return None if row is None else from_row(row)

    def many(self, policy_ids: set[str]) -> dict[str, Policy]:
        """Policies by id, of any partner (the caller already holds ids it may read)."""
        if not policy_ids:
            return {}
        rows = self.conn.execute(
            sa.select(policies).where(among(self.conn, policies.c.id, sorted(policy_ids)))
        )
        return {r.id: from_row(r) for r in rows}

    def set_status(self, policy_id: str, expected: str, status: str, **values: Any) -> bool:
        """Compare-and-set on the status; the other columns change with it."""
        result = self.conn.execute(
            policies.update()
            .where(policies.c.id == policy_id, policies.c.status == expected)
            .values(status=status, **values)
        )
        return result.rowcount == 1

    def due_for_expiry(self, now: datetime, limit: int) -> list[Policy]:
        """Active policies whose cover has ended, the oldest first; on PostgreSQL locked, and
        skipping those another worker holds."""
        stmt = (
            sa.select(policies)
            .where(policies.c.status == "active", policies.c.coverage_end <= now)
            .order_by(policies.c.coverage_end)
            .limit(limit)
        )
        if self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return [from_row(r) for r in self.conn.execute(stmt)]

    def update_cancelled(
        self,
        policy: Policy,
        new_status: str,
        reason: str,
        refund: Decimal,
        now: datetime,
    ) -> bool:
        """Compare-and-set on the status, so two concurrent cancels cannot both succeed."""
        result = self.conn.execute(
            policies.update()
            .where(policies.c.id == policy.id, policies.c.status == policy.status)
            .values(
                status=new_status,
                cancelled_at=now,
                cancel_reason=reason,
                refund_amount=to_minor(refund, policy.premium.currency),
                updated_at=now,
            )
        )
        return result.rowcount == 1

    def update_endorsed(self, before: Policy, after: Policy) -> bool:
        """Write an endorsed policy: compare-and-set on its version and status, so two
        concurrent endorsements (or an endorsement and a cancel) cannot both succeed."""
        ph = after.policyholder
        result = self.conn.execute(
            policies.update()
            .where(
                policies.c.id == before.id,
                policies.c.version == before.version,
                policies.c.status == before.status,
            )
            .values(
                risk=after.risk,
                policyholder_name=ph.name if ph else None,
                policyholder_phone=ph.phone if ph else None,
                coverage_start=after.coverage_start,
                coverage_end=after.coverage_end,
                version=after.version,
                updated_at=after.updated_at,
                worksheet=after.worksheet,
                priced_at=after.priced_at,
                **premium_columns(after.premium),
            )
        )
        return result.rowcount == 1

    def list_page(
        self,
        partner_id: str,
        livemode: bool,
        limit: int,
        starting_after: str | None = None,
        external_ref: str | None = None,
        status: str | None = None,
        product: str | None = None,
        holder: HolderMatch | None = None,
    ) -> tuple[list[Policy], bool]:
        """A partner's policies, newest first; returns one page and whether more follow."""
        return self.search(
            limit,
            starting_after,
            partner_id=partner_id,
            livemode=livemode,
            external_ref=external_ref,
            status=status,
            product=product,
            holder=holder,
        )

    def search(
        self,
        limit: int,
        starting_after: str | None = None,
        *,
        policy_id: str | None = None,
        external_ref: str | None = None,
        partner_id: str | None = None,
        status: str | None = None,
        product: str | None = None,
        livemode: bool | None = None,
        created_from: datetime | None = None,
        created_before: datetime | None = None,
        holder: HolderMatch | None = None,
    ) -> tuple[list[Policy], bool]:
        """Policies of every partner (ops search), newest first; a page and whether more follow."""
        stmt = sa.select(policies)
        if holder is not None:
            if holder.id_hashes is not None:
                stmt = stmt.where(policies.c.policyholder_id_hash.in_(holder.id_hashes))
            if holder.phone is not None:
                stmt = stmt.where(policies.c.policyholder_phone == holder.phone)
            if holder.name is not None:
                stmt = stmt.where(policies.c.policyholder_name == holder.name)
        for column, value in (
            (policies.c.id, policy_id),
            (policies.c.external_ref, external_ref),
            (policies.c.partner_id, partner_id),
            (policies.c.status, status),
            (policies.c.product_code, product),
            (policies.c.livemode, livemode),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if created_from is not None:
            stmt = stmt.where(policies.c.created_at >= created_from)
        if created_before is not None:
            stmt = stmt.where(policies.c.created_at < created_before)
        rows, more = keyset_page(self.conn, stmt, policies.c.id, limit, starting_after)
        return [from_row(r) for r in rows], more

    def scan_for_replay(
        self,
        product: str,
        limit: int,
        after_id: str | None = None,
        created_from: datetime | None = None,
    ) -> list[Policy]:
        """Policies of a product in id order (every partner, both modes), a batch at a time."""
        stmt = sa.select(policies).where(policies.c.product_code == product)
        if after_id is not None:
            stmt = stmt.where(policies.c.id > after_id)
        if created_from is not None:
            stmt = stmt.where(policies.c.created_at >= created_from)
        return [from_row(r) for r in self.conn.execute(stmt.order_by(policies.c.id).limit(limit))]

    def count_for_replay(self, product: str, created_from: datetime | None) -> int:
        stmt = sa.select(sa.func.count()).select_from(policies)
        stmt = stmt.where(policies.c.product_code == product)
        if created_from is not None:
            stmt = stmt.where(policies.c.created_at >= created_from)
        return int(self.conn.execute(stmt).scalar_one())

    def book_rows(
        self, product: str, created_from: datetime | None, livemode: bool | None
    ) -> tuple[int, Iterator[sa.Row[Any]]]:
        """How many, and a stream of, the risks of a product's sold policies and when each
        was issued (impact analysis: the light columns only)."""
        where = [
            policies.c.product_code == product,
            policies.c.status.in_(("active", "expired", "cancelled")),
        ]
        if created_from is not None:
            where.append(policies.c.created_at >= created_from)
        if livemode is not None:
            where.append(policies.c.livemode == livemode)
        return counted_stream(
            self.conn,
            sa.select(policies.c.risk, policies.c.created_at).where(*where),
            policies.c.id,
        )

    def experience_rows(self, product: str, livemode: bool) -> tuple[int, Iterator[sa.Row[Any]]]:
        """How many, and a stream of, a product's sold policies with what experience needs
        (premium, cover, refund, risk)."""
        return counted_stream(
            self.conn,
            sa.select(
                policies.c.id,
                policies.c.edition_id,
                policies.c.partner_id,
                policies.c.status,
                policies.c.created_at,
                policies.c.coverage_start,
                policies.c.coverage_end,
                policies.c.currency,
                policies.c.premium_total,
                policies.c.premium_tax,
                policies.c.refund_amount,
                policies.c.risk,
            ).where(
                policies.c.product_code == product,
                policies.c.livemode == livemode,
                policies.c.status.in_(("active", "expired", "cancelled")),
            ),
            policies.c.id,
        )
