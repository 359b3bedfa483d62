"""Partners and their API keys."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from policy_service.domain.records import Caller, Partner

from .tables import api_keys, partners


def insert_partner(conn: sa.Connection, partner: Partner) -> None:
    conn.execute(
        partners.insert().values(
            id=partner.id,
            name=partner.name,
            billing_mode=partner.billing_mode,
            created_at=partner.created_at,
        )
    )


def get_partner(conn: sa.Connection, partner_id: str) -> Partner | None:
    row = conn.execute(sa.select(partners).where(partners.c.id == partner_id)).first()
    if row is None:
        return None
    return Partner(row.id, row.name, row.billing_mode, row.created_at)


def insert_key(
    conn: sa.Connection,
    key_id: str,
    partner_id: str,
    key_hash: str,
    hint: str,
    livemode: bool,
    scopes: str,
    created_at: datetime,
) -> None:
    conn.execute(
        api_keys.insert().values(
            id=key_id,
            partner_id=partner_id,
            key_hash=key_hash,
            key_hint=hint,
            livemode=livemode,
            scopes=scopes,
            created_at=created_at,
        )
    )


def caller_for_key_hash(conn: sa.Connection, key_hash: str) -> Caller | None:
    row = conn.execute(
        sa.select(
            api_keys.c.id,
            api_keys.c.partner_id,
            api_keys.c.livemode,
            api_keys.c.scopes,
            partners.c.billing_mode,
        )
        .join(partners, partners.c.id == api_keys.c.partner_id)
        .where(api_keys.c.key_hash == key_hash)
        .where(api_keys.c.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    return Caller(
        row.partner_id, row.livemode, row.id, frozenset(row.scopes.split()), row.billing_mode
    )
