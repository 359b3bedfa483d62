"""The event outbox: written in the same transaction as the change it reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from .tables import events


@dataclass(frozen=True)
class NewEvent:
    id: str
    partner_id: str
    livemode: bool
    type: str
    object_type: str
    object_id: str
    data: dict[str, Any]
    created_at: datetime


def insert_many(conn: sa.Connection, new: list[NewEvent]) -> None:
    if not new:
        return
    conn.execute(
        events.insert(),
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
            }
            for e in new
        ],
    )


def for_object(conn: sa.Connection, object_id: str) -> list[sa.Row[Any]]:
    return list(
        conn.execute(sa.select(events).where(events.c.object_id == object_id).order_by(events.c.id))
    )
