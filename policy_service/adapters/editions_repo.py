"""Product editions as registered (hash and files, so used editions stay immutable) and
the record of their publications."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from policy_service.domain.publication import Publication, PublicationAction
from pricing.model import Edition

from .sql import insert_ignoring_conflicts
from .tables import edition_publications, policies, product_editions, quotes


class EditionsRepository:
    """Product editions as registered (hash and files, so used editions stay immutable) and: the queries, on the connection of one unit of work."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def register(self, edition: Edition, now: datetime) -> str | None:
        """Record the edition; returns the stored hash when a different one was already there."""
        self.conn.execute(
            insert_ignoring_conflicts(self.conn, product_editions).values(
                id=edition.ref,
                product_code=edition.product,
                edition=edition.id,
                content_hash=edition.content_hash,
                effective_from=edition.effective_from,
                files=edition.files,
                registered_at=now,
            )
        )
        stored = self.conn.execute(
            sa.select(product_editions.c.content_hash).where(product_editions.c.id == edition.ref)
        ).scalar_one()
        return None if stored == edition.content_hash else stored

    def is_used(self, edition_ref: str) -> bool:
        for table in (policies, quotes):
            used = self.conn.execute(
                sa.select(sa.literal(1)).where(table.c.edition_id == edition_ref).limit(1)
            ).first()
            if used:
                return True
        return False

    def used_editions(self, edition_refs: list[str]) -> set[str]:
        """Which of these editions ("<product>/<edition>") a quote or policy uses."""
        return {ref for ref in edition_refs if self.is_used(ref)}

    def lock_publications(self) -> None:
        """Serialise publishing (and the first start's publishing) for the transaction.

        On SQLite every transaction of ours begins with BEGIN IMMEDIATE (adapters/db.py), which
        already serialises writers; PostgreSQL takes a transaction-scoped advisory lock.
        """
        if self.conn.dialect.name == "postgresql":
            self.conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7351006)")

    def any_registration(self) -> bool:
        return (
            self.conn.execute(
                sa.select(sa.literal(1)).select_from(product_editions).limit(1)
            ).first()
            is not None
        )

    def recorded_hashes(self, product_code: str) -> dict[str, str]:
        """edition id -> the content hash recorded for it."""
        rows = self.conn.execute(
            sa.select(product_editions.c.edition, product_editions.c.content_hash).where(
                product_editions.c.product_code == product_code
            )
        )
        return {r.edition: r.content_hash for r in rows}

    def recorded_files(self, product_code: str, edition_id: str) -> dict[str, str]:
        return self.conn.execute(
            sa.select(product_editions.c.files).where(
                product_editions.c.id == f"{product_code}/{edition_id}"
            )
        ).scalar_one()

    def publications_mark(self) -> int:
        """The id of the latest entry: it changes whenever any edition is published or withdrawn."""
        return self.conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(edition_publications.c.id), 0))
        ).scalar_one()

    def publications(self, product_code: str) -> list[Publication]:
        """The product's publication history, oldest first."""
        t = edition_publications
        rows = self.conn.execute(
            sa.select(t, product_editions.c.edition)
            .join(product_editions, product_editions.c.id == t.c.edition_id)
            .where(t.c.product_code == product_code)
            .order_by(t.c.id)
        ).all()
        return [
            Publication(
                edition=r.edition,
                action=PublicationAction(r.action),
                content_hash=r.content_hash,
                effective_from=r.effective_from,
                actor=r.actor,
                recorded_at=r.recorded_at,
                note=r.note,
            )
            for r in rows
        ]

    def record_publication(self, product_code: str, publication: Publication) -> None:
        self.conn.execute(
            edition_publications.insert().values(
                edition_id=f"{product_code}/{publication.edition}",
                product_code=product_code,
                action=publication.action.value,
                content_hash=publication.content_hash,
                effective_from=publication.effective_from,
                actor=publication.actor,
                recorded_at=publication.recorded_at,
                note=publication.note,
            )
        )

    def replace_unused(self, edition: Edition, now: datetime) -> None:
        self.conn.execute(
            product_editions.update()
            .where(product_editions.c.id == edition.ref)
            .values(
                content_hash=edition.content_hash,
                effective_from=edition.effective_from,
                files=edition.files,
                registered_at=now,
            )
        )
