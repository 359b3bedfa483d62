"""The event outbox: written in the same transaction as the change it reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from .sql import insert_rows, keyset_page
from .tables import events


@dataclass(frozen=True)
class NewEvent:
    id: str
    partner_id: str
    livemode: bool
    type: str
    object_type: str
    object_id: str
    #: the object as JSON (an orjson.Fragment when already written as JSON); None for a
    #: policy as issued: rebuilt from the policy's row when read
    data: dict[str, Any] | orjson.Fragment | None
    created_at: datetime


class EventsRepository:
    """The event outbox: written in the same transaction as the change it reports: the queries, on the connection of one unit of work."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def insert_many(self, new: list[NewEvent], dispatched: bool = False) -> None:
        """`dispatched`: fanned out to the webhook endpoints in this same transaction."""
        if not new:
            return
        insert_rows(
            self.conn,
            events,
            [
                {
                    "id": e.id,
                    "partner_id": e.partner_id,
                    "livemode": e.livemode,
                    "type": e.type,
                    "object_type": e.object_type,
                    "object_id": e.object_id,
                    "data": e.data,
                    "created_at": e.created_at,
                    "dispatched_at": e.created_at if dispatched else None,
                }
                for e in new
            ],
            ignore_conflicts=False,
        )

    def get(self, partner_id: str, livemode: bool, event_id: str) -> sa.Row[Any] | None:
        return self.conn.execute(
            sa.select(events).where(
                events.c.id == event_id,
                events.c.partner_id == partner_id,
                events.c.livemode == livemode,
            )
        ).first()

    def list_page(
        self,
        partner_id: str,
        livemode: bool,
        limit: int,
        starting_after: str | None = None,
        types: list[str] | None = None,
        object_id: str | None = None,
    ) -> tuple[list[sa.Row[Any]], bool]:
        """Newest first; one page and whether more follow."""
        stmt = sa.select(events).where(
            events.c.partner_id == partner_id, events.c.livemode == livemode
        )
        if types:
            stmt = stmt.where(events.c.type.in_(types))
        if object_id:
            stmt = stmt.where(events.c.object_id == object_id)
        return keyset_page(self.conn, stmt, events.c.id, limit, starting_after)

    def claim_undispatched(self, limit: int) -> list[sa.Row[Any]]:
        """Oldest events not yet fanned out, locked so that concurrent workers take others."""
        stmt = (
            sa.select(
                events.c.id,
                events.c.partner_id,
                events.c.livemode,
                events.c.type,
                events.c.created_at,
            )
            .where(events.c.dispatched_at.is_(None))
            .order_by(events.c.id)
            .limit(limit)
        )
        if self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return list(self.conn.execute(stmt))

    def mark_dispatched(self, event_ids: list[str], now: datetime) -> None:
        self.conn.execute(
            events.update().where(events.c.id.in_(event_ids)).values(dispatched_at=now)
        )

    def of_objects(self, object_ids: list[str]) -> list[sa.Row[Any]]:
        """Every event about these objects (a policy and its claims), oldest first."""
        if not object_ids:
            return []
        return list(
            self.conn.execute(
                sa.select(events).where(events.c.object_id.in_(object_ids)).order_by(events.c.id)
            )
        )
