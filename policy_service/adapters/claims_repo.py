"""Claims, their payouts, attachments and audit log; trigger events and policy subjects."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from policy_service.domain.claims import Claim

from .sql import among, from_minor, insert_many_returning, insert_rows, keyset_page, to_minor
from .tables import (
    claim_attachments,
    claim_audit,
    claim_payouts,
    claims,
)

C = claims
_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit

_MONEY = ("amount_claimed", "amount_approved", "amount_paid", "benefit_cap")


def claim_row(c: Claim) -> dict[str, Any]:
    row = {
        "id": c.id,
        "partner_id": c.partner_id,
        "livemode": c.livemode,
        "policy_id": c.policy_id,
        "product_code": c.product_code,
        "edition_id": f"{c.product_code}/{c.edition}",
        "content_hash": c.content_hash,
        "loss_key": c.loss_key,
        "origin": c.origin,
        "type": c.type,
        "status": c.status,
        "currency": c.currency,
        "description": c.description,
        "evidence": c.evidence,
        "trigger_event_id": c.trigger_event_id,
        "observed_at": c.observed_at,
        "event_time": c.event_time,
        "evaluation": c.evaluation,
        "corrections": c.corrections,
        "signals": c.signals,
        "evidence_ref": c.evidence_ref,
        "holder_key": c.holder_key,
        "first_approval": c.first_approval,
        "info_requested_at": c.info_requested_at,
        "decided_at": c.decided_at,
        "decided_by": c.decided_by,
        "decision_reason": c.decision_reason,
        "reject_code": c.reject_code,
        "paid_at": c.paid_at,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    }
    for name in _MONEY:
        value = getattr(c, name)
        row[name] = None if value is None else to_minor(value, c.currency)
    return row


def from_row(row: Any) -> Claim:
    m = row._mapping
    return Claim(
        id=m["id"],
        partner_id=m["partner_id"],
        livemode=m["livemode"],
        policy_id=m["policy_id"],
        product_code=m["product_code"],
        edition=m["edition_id"].split("/", 1)[1],
        content_hash=m["content_hash"],
        loss_key=m["loss_key"],
        origin=m["origin"],
        type=m["type"],
        status=m["status"],
        currency=m["currency"],
        amount_claimed=_money(m["amount_claimed"], m["currency"]),
        amount_approved=_money(m["amount_approved"], m["currency"]),
        amount_paid=_money(m["amount_paid"], m["currency"]),
        description=m["description"],
        evidence=m["evidence"] or {},
        trigger_event_id=m["trigger_event_id"],
        observed_at=m["observed_at"],
        event_time=m["event_time"],
        benefit_cap=_money(m["benefit_cap"], m["currency"]),
        evaluation=m["evaluation"],
        corrections=list(m["corrections"] or []),
        signals=list(m["signals"] or []),
        evidence_ref=m["evidence_ref"],
        holder_key=m["holder_key"],
        first_approval=m["first_approval"],
        info_requested_at=m["info_requested_at"],
        decided_at=m["decided_at"],
        decided_by=m["decided_by"],
        decision_reason=m["decision_reason"],
        reject_code=m["reject_code"],
        paid_at=m["paid_at"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _money(minor: int | None, currency: str) -> Any:
    return None if minor is None else from_minor(minor, currency)


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


_QUEUE_COLUMNS = (
    "id",
    "partner_id",
    "livemode",
    "policy_id",
    "product_code",
    "edition_id",
    "origin",
    "type",
    "status",
    "currency",
    "amount_claimed",
    "signals",
    "first_approval",
    "info_requested_at",
    "created_at",
)


P = claim_payouts


class ClaimsRepository:
    """Claims, their payouts, attachments and audit log; trigger events and policy subjects: the queries, on the connection of one unit of work."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def insert_claims(self, new: list[Claim]) -> set[str]:
        """Insert claims, skipping any that would be a second claim for the same loss; returns
        the ids inserted."""
        return insert_many_returning(self.conn, C, [claim_row(c) for c in new], "id")

    def get(
        self,
        claim_id: str,
        partner_id: str | None = None,
        livemode: bool | None = None,
        for_update: bool = False,
    ) -> Claim | None:
        """A claim; scoped to a partner and mode unless both are None (ops)."""
        stmt = sa.select(C).where(C.c.id == claim_id)
        if partner_id is not None:
            stmt = stmt.where(C.c.partner_id == partner_id, C.c.livemode == livemode)
        if for_update:
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).first()
        return None if row is None else from_row(row)

    def get_many(self, claim_ids: list[str]) -> list[Claim]:
        """Claims by id, in the order asked."""
        found: dict[str, Claim] = {}
        for chunk in _chunks(claim_ids):
            found.update(
                (r.id, from_row(r))
                for r in self.conn.execute(sa.select(C).where(among(self.conn, C.c.id, chunk)))
            )
        return [found[i] for i in claim_ids if i in found]

    def update(self, claim: Claim, expected_status: str) -> bool:
        """Write the claim back if its status is still `expected_status`."""
        row = claim_row(claim)
        for key in ("id", "partner_id", "livemode", "policy_id", "created_at"):
            row.pop(key)
        result = self.conn.execute(
            C.update().where(C.c.id == claim.id, C.c.status == expected_status).values(**row)
        )
        return result.rowcount == 1

    def of_policy(self, policy_id: str, for_update: bool = False) -> list[Claim]:
        """Every claim of a policy, oldest first."""
        stmt = sa.select(C).where(C.c.policy_id == policy_id).order_by(C.c.created_at, C.c.id)
        return [
            from_row(r) for r in self.conn.execute(stmt.with_for_update() if for_update else stmt)
        ]

    def for_policies(
        self, policy_ids: list[str], loss_key: str, for_update: bool = False
    ) -> dict[str, Claim]:
        """The latest claim of each policy for one loss (rejected ones included); locked when
        they are about to be changed."""
        out: dict[str, Claim] = {}
        for chunk in _chunks(policy_ids):
            stmt = (
                sa.select(C)
                .where(among(self.conn, C.c.policy_id, chunk), C.c.loss_key == loss_key)
                .order_by(C.c.created_at)
            )
            rows = self.conn.execute(stmt.with_for_update() if for_update else stmt)
            for row in rows:
                out[row.policy_id] = from_row(row)
        return out

    def holder_counts(
        self, holder_keys: set[str], since: datetime, livemode: bool
    ) -> dict[str, int]:
        """Claims per policyholder since a time (for the repeat-claimant signal)."""
        out: dict[str, int] = {}
        for chunk in _chunks(sorted(holder_keys)):
            rows = self.conn.execute(
                sa.select(C.c.holder_key, sa.func.count())
                .where(
                    among(self.conn, C.c.holder_key, chunk),
                    C.c.created_at >= since,
                    C.c.livemode == livemode,
                )
                .group_by(C.c.holder_key)
            )
            out.update({r[0]: int(r[1]) for r in rows})
        return out

    def evidence_users(self, refs: set[str], livemode: bool) -> dict[str, set[str]]:
        """evidence ref -> the policies whose claims used it."""
        out: dict[str, set[str]] = {}
        for chunk in _chunks(sorted(refs)):
            rows = self.conn.execute(
                sa.select(C.c.evidence_ref, C.c.policy_id).where(
                    among(self.conn, C.c.evidence_ref, chunk), C.c.livemode == livemode
                )
            )
            for ref, policy_id in rows:
                out.setdefault(ref, set()).add(policy_id)
        return out

    def related(self, claim: Claim, limit: int = 20) -> list[Claim]:
        """Other claims of the same policyholder or with the same evidence."""
        conds = []
        if claim.holder_key:
            conds.append(C.c.holder_key == claim.holder_key)
        if claim.evidence_ref:
            conds.append(C.c.evidence_ref == claim.evidence_ref)
        if not conds:
            return []
        rows = self.conn.execute(
            sa.select(C)
            .where(sa.or_(*conds), C.c.id != claim.id, C.c.livemode == claim.livemode)
            .order_by(C.c.id.desc())
            .limit(limit)
        )
        return [from_row(r) for r in rows]

    def list_page(
        self,
        limit: int,
        starting_after: str | None = None,
        *,
        partner_id: str | None = None,
        livemode: bool | None = None,
        policy_id: str | None = None,
        status: str | None = None,
        product: str | None = None,
        oldest_first: bool = False,
        trigger_event: str | None = None,
    ) -> tuple[list[Claim], bool]:
        stmt = sa.select(C)
        if trigger_event is not None:
            stmt = stmt.where(C.c.trigger_event_id == trigger_event)
        if partner_id is not None:
            stmt = stmt.where(C.c.partner_id == partner_id)
        if livemode is not None:
            stmt = stmt.where(C.c.livemode == livemode)
        if policy_id is not None:
            stmt = stmt.where(C.c.policy_id == policy_id)
        if status is not None:
            stmt = stmt.where(C.c.status == status)
        if product is not None:
            stmt = stmt.where(C.c.product_code == product)
        rows, more = keyset_page(
            self.conn, stmt, C.c.id, limit, starting_after, oldest_first=oldest_first
        )
        return [from_row(r) for r in rows], more

    def queue_scan(
        self,
        limit: int,
        *,
        status: str,
        livemode: bool | None = None,
        amount_min: dict[str, int] | None = None,
        amount_max: dict[str, int] | None = None,
        after: tuple[datetime, str] | None = None,
    ) -> list[sa.Row[Any]]:
        """The light columns of claims in a status, oldest first (the review queue), after the
        (created_at, id) cursor `after` when given.

        amount_min/amount_max map each currency to a bound in its minor units."""
        stmt = sa.select(*(C.c[name] for name in _QUEUE_COLUMNS)).where(C.c.status == status)
        if after is not None:
            stmt = stmt.where(
                sa.or_(
                    C.c.created_at > after[0],
                    sa.and_(C.c.created_at == after[0], C.c.id > after[1]),
                )
            )
        if livemode is not None:
            stmt = stmt.where(C.c.livemode == livemode)
        for bounds, above in ((amount_min, True), (amount_max, False)):
            if bounds is not None:
                stmt = stmt.where(
                    sa.or_(
                        *(
                            sa.and_(
                                C.c.currency == currency,
                                C.c.amount_claimed >= minor
                                if above
                                else C.c.amount_claimed <= minor,
                            )
                            for currency, minor in bounds.items()
                        )
                    )
                )
        return list(self.conn.execute(stmt.order_by(C.c.created_at, C.c.id).limit(limit)))

    def audit(self, rows: list[dict[str, Any]]) -> None:
        insert_rows(self.conn, claim_audit, rows, ignore_conflicts=False)

    def audit_of(self, claim_id: str) -> list[sa.Row[Any]]:
        return list(
            self.conn.execute(
                sa.select(claim_audit)
                .where(claim_audit.c.claim_id == claim_id)
                .order_by(claim_audit.c.id)
            )
        )

    def insert_payouts(self, rows: list[dict[str, Any]]) -> None:
        """Insert payouts; a second payout of the same money (same claim and sequence, or the
        same starting point) is refused by the database and fails the transaction."""
        insert_rows(self.conn, P, rows, ignore_conflicts=False)

    def payouts_of(self, claim_id: str) -> list[sa.Row[Any]]:
        """A claim's payouts, first one first."""
        return list(
            self.conn.execute(sa.select(P).where(P.c.claim_id == claim_id).order_by(P.c.sequence))
        )

    def payouts_for(self, claim_ids: list[str]) -> dict[str, list[sa.Row[Any]]]:
        """claim id -> its payouts, first one first."""
        out: dict[str, list[sa.Row[Any]]] = {}
        for chunk in _chunks(claim_ids):
            rows = self.conn.execute(
                sa.select(P)
                .where(among(self.conn, P.c.claim_id, chunk))
                .order_by(P.c.claim_id, P.c.sequence)
            )
            for row in rows:
                out.setdefault(row.claim_id, []).append(row)
        return out

    def pending_payouts(self, now: datetime, limit: int) -> list[str]:
        rows = self.conn.execute(
            sa.select(P.c.id)
            .where(
                P.c.status == "pending",
                P.c.method == "stripe",
                sa.or_(P.c.lease_until.is_(None), P.c.lease_until < now),
            )
            .order_by(P.c.updated_at)
            .limit(limit)
        )
        return [r[0] for r in rows]

    def lease_payout(self, payout_id: str, now: datetime, until: datetime) -> bool:
        """Take a pending payout for one sending attempt; False if another worker holds it."""
        result = self.conn.execute(
            P.update()
            .where(
                P.c.id == payout_id,
                P.c.status == "pending",
                sa.or_(P.c.lease_until.is_(None), P.c.lease_until < now),
            )
            .values(lease_until=until)
        )
        return result.rowcount == 1

    def get_payout(self, payout_id: str) -> sa.Row[Any]:
        return self.conn.execute(sa.select(P).where(P.c.id == payout_id)).one()

    def update_payout(self, payout_id: str, expected: str, **values: Any) -> bool:
        result = self.conn.execute(
            P.update().where(P.c.id == payout_id, P.c.status == expected).values(**values)
        )
        return result.rowcount == 1

    def insert_attachment(self, row: dict[str, Any]) -> None:
        self.conn.execute(claim_attachments.insert().values(**row))

    def attachments_of(self, claim_id: str) -> list[sa.Row[Any]]:
        return list(
            self.conn.execute(
                sa.select(claim_attachments)
                .where(claim_attachments.c.claim_id == claim_id)
                .order_by(claim_attachments.c.id)
            )
        )

    def attachment(self, claim_id: str, attachment_id: str) -> sa.Row[Any] | None:
        return self.conn.execute(
            sa.select(claim_attachments).where(
                claim_attachments.c.claim_id == claim_id, claim_attachments.c.id == attachment_id
            )
        ).first()

    def paid_for_product(self, product: str, livemode: bool) -> list[sa.Row[Any]]:
        """(policy_id, currency, amount_paid minor) of a product's paid claims."""
        return list(
            self.conn.execute(
                sa.select(C.c.policy_id, C.c.currency, C.c.amount_paid).where(
                    C.c.product_code == product, C.c.livemode == livemode, C.c.status == "paid"
                )
            )
        )
