"""Partners and their API keys; data providers and their keys; ops staff and their tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from policy_service.domain.records import Caller, Partner

from .tables import (
    api_keys,
    data_providers,
    partners,
    provider_keys,
    staff,
    staff_login_failures,
    staff_tokens,
)


class PartnersRepository:
    """Partners and their API keys; data providers and their keys; ops staff and their tokens: the queries, on the connection of one unit of work."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def insert_partner(self, partner: Partner) -> None:
        self.conn.execute(
            partners.insert().values(
                id=partner.id,
                name=partner.name,
                billing_mode=partner.billing_mode,
                created_at=partner.created_at,
            )
        )

    def get_partner(self, partner_id: str) -> Partner | None:
        row = self.conn.execute(sa.select(partners).where(partners.c.id == partner_id)).first()
        if row is None:
            return None
        return Partner(row.id, row.name, row.billing_mode, row.created_at)

    def insert_key(
        self,
        key_id: str,
        partner_id: str,
        key_hash: str,
        hint: str,
        livemode: bool,
        scopes: str,
        created_at: datetime,
    ) -> None:
        self.conn.execute(
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

    def list_keys(self, partner_id: str, livemode: bool) -> list[Any]:
        t = api_keys
        return list(
            self.conn.execute(
                sa.select(
                    t.c.id, t.c.key_hint, t.c.livemode, t.c.scopes, t.c.created_at, t.c.revoked_at
                )
                .where(t.c.partner_id == partner_id, t.c.livemode == livemode)
                .order_by(t.c.created_at, t.c.id)
            ).all()
        )

    def get_key(self, partner_id: str, key_id: str, for_update: bool = False) -> sa.Row[Any] | None:
        t = api_keys
        stmt = sa.select(t).where(t.c.id == key_id, t.c.partner_id == partner_id)
        return self.conn.execute(stmt.with_for_update() if for_update else stmt).first()

    def revoke_key(self, key_id: str, at: datetime) -> None:
        self.conn.execute(api_keys.update().where(api_keys.c.id == key_id).values(revoked_at=at))

    def caller_for_key_hash(self, key_hash: str, now: datetime | None = None) -> Caller | None:
        row = self.conn.execute(
            sa.select(
                api_keys.c.id,
                api_keys.c.partner_id,
                api_keys.c.livemode,
                api_keys.c.scopes,
                partners.c.billing_mode,
                partners.c.rate_limit,
            )
            .join(partners, partners.c.id == api_keys.c.partner_id)
            .where(api_keys.c.key_hash == key_hash)
            # a rotated key keeps working until its revocation time
            .where(
                api_keys.c.revoked_at.is_(None)
                if now is None
                else sa.or_(api_keys.c.revoked_at.is_(None), api_keys.c.revoked_at > now)
            )
        ).first()
        if row is None:
            return None
        return Caller(
            row.partner_id,
            row.livemode,
            row.id,
            frozenset(row.scopes.split()),
            row.billing_mode,
            rate_limit=row.rate_limit,
        )

    def set_rate_limit(self, owner_id: str, rate_limit: str | None) -> bool:
        """On the partner or data provider of that id; False when there is none."""
        for table in (partners, data_providers):
            done = self.conn.execute(
                table.update().where(table.c.id == owner_id).values(rate_limit=rate_limit)
            )
            if done.rowcount:
                return True
        return False

    def insert_provider(self, provider_id: str, name: str, now: datetime) -> None:
        self.conn.execute(data_providers.insert().values(id=provider_id, name=name, created_at=now))

    def insert_provider_key(
        self,
        key_id: str,
        provider_id: str,
        key_hash: str,
        hint: str,
        livemode: bool,
        now: datetime,
    ) -> None:
        self.conn.execute(
            provider_keys.insert().values(
                id=key_id,
                provider_id=provider_id,
                key_hash=key_hash,
                key_hint=hint,
                livemode=livemode,
                created_at=now,
            )
        )

    def caller_for_provider_key(self, key_hash: str) -> Caller | None:
        row = self.conn.execute(
            sa.select(
                provider_keys.c.id,
                provider_keys.c.provider_id,
                provider_keys.c.livemode,
                data_providers.c.rate_limit,
            )
            .join(data_providers, data_providers.c.id == provider_keys.c.provider_id)
            .where(provider_keys.c.key_hash == key_hash, provider_keys.c.revoked_at.is_(None))
        ).first()
        if row is None:
            return None
        # A provider key may post trigger events and do nothing else.
        return Caller(
            "",
            row.livemode,
            row.id,
            frozenset({"trigger_events:write"}),
            provider_id=row.provider_id,
            rate_limit=row.rate_limit,
        )

    def insert_staff(self, row: dict[str, object]) -> None:
        self.conn.execute(staff.insert().values(**row))

    def staff_by_email(self, email: str, for_update: bool = False) -> sa.Row[object] | None:
        stmt = sa.select(staff).where(staff.c.email == email)
        return self.conn.execute(stmt.with_for_update() if for_update else stmt).first()

    def insert_staff_token(self, row: dict[str, object]) -> None:
        self.conn.execute(staff_tokens.insert().values(**row))

    def staff_for_token_hash(self, token_hash: str) -> sa.Row[object] | None:
        return self.conn.execute(
            sa.select(staff)
            .join(staff_tokens, staff_tokens.c.staff_id == staff.c.id)
            .where(
                staff_tokens.c.token_hash == token_hash,
                staff_tokens.c.revoked_at.is_(None),
                staff.c.disabled_at.is_(None),
            )
        ).first()

    def staff_by_id(self, staff_id: str) -> sa.Row[object] | None:
        return self.conn.execute(sa.select(staff).where(staff.c.id == staff_id)).first()

    def list_staff(self) -> list[sa.Row[object]]:
        return list(self.conn.execute(sa.select(staff).order_by(staff.c.email)))

    def login_failures(self, staff_id: str, address: str) -> tuple[int, datetime | None]:
        """(wrong passwords in a row, locked until) for the account from this address."""
        t = staff_login_failures
        row = self.conn.execute(
            sa.select(t.c.failures, t.c.locked_until).where(
                t.c.staff_id == staff_id, t.c.address == address
            )
        ).first()
        return (row.failures, row.locked_until) if row else (0, None)

    def set_login_failures(
        self, staff_id: str, address: str, failures: int, locked_until: datetime | None
    ) -> None:
        t = staff_login_failures
        where = (t.c.staff_id == staff_id) & (t.c.address == address)
        self.conn.execute(t.delete().where(where))
        if failures or locked_until:
            self.conn.execute(
                t.insert().values(
                    staff_id=staff_id,
                    address=address,
                    failures=failures,
                    locked_until=locked_until,
                )
            )

    def clear_login_failures(self, staff_id: str) -> None:
        t = staff_login_failures
        self.conn.execute(t.delete().where(t.c.staff_id == staff_id))

    def update_staff(self, staff_id: str, **values: object) -> None:
        self.conn.execute(staff.update().where(staff.c.id == staff_id).values(**values))

    def count_active_admins(self) -> int:
        return self.conn.execute(
            sa.select(sa.func.count())
            .select_from(staff)
            .where(staff.c.role == "admin", staff.c.disabled_at.is_(None))
        ).scalar_one()

    def partner_names(self) -> dict[str, str]:
        return {r.id: r.name for r in self.conn.execute(sa.select(partners.c.id, partners.c.name))}
