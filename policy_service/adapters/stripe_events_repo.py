"""Stripe events already handled: Stripe delivers at least once."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from .sql import insert_many_returning
from .tables import stripe_events


class StripeEventsRepository:
    """Stripe events already handled: Stripe delivers at least once: the queries, on the connection of one unit of work."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def remember(self, event_id: str, event_type: str, now: datetime) -> bool:
        """True the first time an event id is seen."""
        return bool(
            insert_many_returning(
                self.conn,
                stripe_events,
                [{"id": event_id, "type": event_type[:80], "received_at": now}],
                "id",
            )
        )

    def seen(self, event_id: str) -> bool:
        return (
            self.conn.execute(
                sa.select(stripe_events.c.id).where(stripe_events.c.id == event_id)
            ).first()
            is not None
        )
