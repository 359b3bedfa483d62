"""The trigger types put in force: each publication keeps the file's text, so the type in
force stays what was published whatever happens to the file."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from policy_service.domain.publication import TriggerPublication

from .tables import trigger_type_publications


class TriggerTypesRepository:
    """Trigger type publications: the queries, on the connection of one unit of work."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def in_force(self) -> dict[str, TriggerPublication]:
        """The latest publication of each trigger type."""
        t = trigger_type_publications
        latest = sa.select(sa.func.max(t.c.id)).group_by(t.c.name).scalar_subquery()
        rows = self.conn.execute(sa.select(t).where(t.c.id.in_(latest))).all()
        return {r.name: _publication(r) for r in rows}

    def history(self, name: str) -> list[TriggerPublication]:
        t = trigger_type_publications
        rows = self.conn.execute(sa.select(t).where(t.c.name == name).order_by(t.c.id)).all()
        return [_publication(r) for r in rows]

    def mark(self) -> int:
        """The id of the latest publication: it changes whenever a trigger type is published."""
        t = trigger_type_publications
        return self.conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.c.id), 0))).scalar_one()

    def record(self, publication: TriggerPublication) -> None:
        self.conn.execute(
            trigger_type_publications.insert().values(
                name=publication.name,
                content_hash=publication.content_hash,
                text=publication.text,
                actor=publication.actor,
                recorded_at=publication.recorded_at,
                note=publication.note,
            )
        )


def _publication(row: sa.Row[Any]) -> TriggerPublication:
    return TriggerPublication(
        row.name, row.content_hash, row.text, row.actor, row.recorded_at, row.note
    )
