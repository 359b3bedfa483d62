"""A partner's API keys over their life: list, create with scopes, revoke (refused by
every process within API_KEY_CACHE_SECONDS), rotate with an overlap (the old key keeps
working for a while, so a deployment can switch without a failed request). A key with the
keys:admin scope manages the keys of its partner in its own mode; the CLI any partner's.
The secret is shown once and only its hash is kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from policy_service.domain.errors import Conflict, InvalidRequest, NotFound
from policy_service.domain.records import FULL_ACCESS

from .partners import create_key_in
from .unit_of_work import Tx, UnitOfWork

#: the longest a rotated key may keep working
MAX_OVERLAP = timedelta(hours=72)


@dataclass(frozen=True)
class KeyView:
    id: str
    hint: str
    livemode: bool
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None

    def status(self, now: datetime) -> str:
        if self.revoked_at is None:
            return "active"
        return "expiring" if self.revoked_at > now else "revoked"


def _view(row: Any) -> KeyView:
    return KeyView(
        row.id,
        row.key_hint,
        row.livemode,
        tuple(row.scopes.split()),
        row.created_at,
        row.revoked_at,
    )


def list_keys(uow: UnitOfWork, partner_id: str, livemode: bool) -> list[KeyView]:
    with uow.read() as tx:
        return [_view(r) for r in tx.partners.list_keys(partner_id, livemode)]


def create_key(
    tx: Tx, partner_id: str, livemode: bool, scopes: list[str] | None, now: datetime
) -> tuple[KeyView, str]:
    """In the caller's transaction (an Idempotency-Key's): the key and its secret."""
    if scopes is not None and not scopes:
        raise InvalidRequest(
            "must list at least one scope, or leave it out for all", param="scopes"
        )
    key_id, secret = create_key_in(tx, partner_id, livemode, scopes or [FULL_ACCESS], now)
    return _view(tx.partners.get_key(partner_id, key_id)), secret


def revoke_key(
    uow: UnitOfWork, partner_id: str, key_id: str, now: datetime, livemode: bool | None = None
) -> KeyView:
    """Revoke now (a key already revoked keeps its earlier time). `livemode`: a key of
    that mode only (an API caller manages its own mode's keys; the CLI any)."""
    with uow.write() as tx:
        row = _key(tx, partner_id, key_id, livemode)
        if row.revoked_at is None or row.revoked_at > now:
            tx.partners.revoke_key(key_id, now)
            row = tx.partners.get_key(partner_id, key_id)
    return _view(row)


def rotate_key(
    tx: Tx,
    partner_id: str,
    key_id: str,
    overlap: timedelta,
    now: datetime,
    livemode: bool | None = None,
) -> tuple[KeyView, str]:
    """A new key with the same mode and scopes; the old one works `overlap` longer."""
    if not timedelta(0) <= overlap <= MAX_OVERLAP:
        raise InvalidRequest("must be between 0 and 72 hours", param="overlap_hours")
    old = _key(tx, partner_id, key_id, livemode)
    if old.revoked_at is not None and old.revoked_at <= now:
        raise Conflict("this key is revoked: create a new one", code="key_revoked")
    new_key, secret = create_key_in(tx, partner_id, old.livemode, old.scopes.split(), now)
    if old.revoked_at is None or old.revoked_at > now + overlap:
        tx.partners.revoke_key(key_id, now + overlap)
    return _view(tx.partners.get_key(partner_id, new_key)), secret


def _key(tx: Tx, partner_id: str, key_id: str, livemode: bool | None) -> Any:
    row = tx.partners.get_key(partner_id, key_id, for_update=True)
    if row is None or (livemode is not None and row.livemode != livemode):
        raise NotFound(f"no API key {key_id}", param="id")
    return row


def rotate(
    uow: UnitOfWork, partner_id: str, key_id: str, overlap: timedelta, now: datetime
) -> tuple[KeyView, str]:
    """rotate_key in a transaction of its own (the CLI)."""
    with uow.write() as tx:
        return rotate_key(tx, partner_id, key_id, overlap, now)
