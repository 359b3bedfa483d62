"""Product editions as published: hash and files, so used editions stay immutable."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from pricing.model import Edition

from .sql import insert_ignoring_conflicts
from .tables import policies, product_editions, quotes


def register(conn: sa.Connection, edition: Edition, now: datetime) -> str | None:
    """Record the edition; returns the stored hash when a different one was already there."""
    conn.execute(
        insert_ignoring_conflicts(conn, product_editions).values(
            id=edition.ref,
            product_code=edition.product,
            edition=edition.id,
            content_hash=edition.content_hash,
            effective_from=edition.effective_from,
            files=edition.files,
            registered_at=now,
        )
    )
    stored = conn.execute(
        sa.select(product_editions.c.content_hash).where(product_editions.c.id == edition.ref)
    ).scalar_one()
    return None if stored == edition.content_hash else stored


def is_used(conn: sa.Connection, edition_ref: str) -> bool:
    for table in (policies, quotes):
        used = conn.execute(
            sa.select(sa.literal(1)).where(table.c.edition_id == edition_ref).limit(1)
        ).first()
        if used:
            return True
    return False


def replace_unused(conn: sa.Connection, edition: Edition, now: datetime) -> None:
    conn.execute(
        product_editions.update()
        .where(product_editions.c.id == edition.ref)
        .values(
            content_hash=edition.content_hash,
            effective_from=edition.effective_from,
            files=edition.files,
            registered_at=now,
        )
    )
