"""Trigger events (facts posted by providers) and what they match: the keys policies are
stored under, locks on a subject, the reports already applied."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from .sql import insert_ignoring_conflicts, insert_rows
from .tables import policies, policy_subjects, trigger_events

T = trigger_events

#: stored for a policy no trigger can match, so that it is not looked at again
NO_SUBJECT = "0" * 64


class TriggersRepository:
    """Trigger events and policy subjects, on the connection of one unit of work."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def insert_trigger(self, row: dict[str, Any]) -> bool:
        """False when the same fact was already posted by the same source."""
        # RETURNING, not rowcount: psycopg reports -1 for INSERT ... ON CONFLICT DO NOTHING.
        stmt = insert_ignoring_conflicts(self.conn, T).values(**row).returning(T.c.id)
        return self.conn.execute(stmt).first() is not None

    def trigger_by_fingerprint(
        self, source_id: str, livemode: bool, fingerprint: str
    ) -> sa.Row[Any] | None:
        return self.conn.execute(
            sa.select(T).where(
                T.c.source_id == source_id, T.c.livemode == livemode, T.c.fingerprint == fingerprint
            )
        ).first()

    def get_trigger(self, trigger_id: str) -> sa.Row[Any] | None:
        return self.conn.execute(sa.select(T).where(T.c.id == trigger_id)).first()

    def finish_trigger(
        self,
        trigger_id: str,
        status: str,
        result: dict[str, Any],
        event_time: datetime | None = None,
    ) -> None:
        self.conn.execute(
            T.update()
            .where(T.c.id == trigger_id)
            .values(status=status, result=result, event_time=event_time)
        )

    def newer_trigger_applied(
        self, subject_key: str, observed_at: datetime, trigger_id: str
    ) -> str | None:
        """The id of an already-processed report on the same subject observed later, if any."""
        row = self.conn.execute(
            sa.select(T.c.id)
            .where(
                T.c.subject_key == subject_key,
                T.c.id != trigger_id,
                T.c.status == "processed",
                T.c.observed_at > observed_at,
            )
            .limit(1)
        ).first()
        return None if row is None else str(row[0])

    def lock_subject(self, subject_key: str) -> None:
        """Serialise the processing of reports on one subject, or on one piece of evidence
        (SQLite serialises every write anyway)."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(:k)"),
                {"k": int(subject_key[:15], 16)},
            )

    def insert_subjects(self, rows: list[dict[str, Any]]) -> None:
        insert_rows(self.conn, policy_subjects, rows, ignore_conflicts=True)

    def policies_matching(
        self,
        subject_keys: set[str],
        statuses: tuple[str, ...],
        partner_id: str | None,
    ) -> list[sa.Row[Any]]:
        """Policies stored under any of the subject keys, in one of `statuses`, locked (in id
        order) against a concurrent cancellation until the settlement commits."""
        if not subject_keys:
            return []
        # The ids first, then the rows: in one statement PostgreSQL's generic plan (used
        # once psycopg prepares it) walks the partner's policies in id order to skip the
        # sort, a cost that grows with the book; by primary key it stays a few probes.
        ids = self.conn.execute(
            sa.select(policy_subjects.c.policy_id).where(
                policy_subjects.c.subject_key.in_(sorted(subject_keys))
            )
        ).scalars()
        wanted = sorted(set(ids))
        if not wanted:
            return []
        stmt = (
            sa.select(policies)
            .where(policies.c.id.in_(wanted), policies.c.status.in_(statuses))
            .order_by(policies.c.id)
            .with_for_update()
        )
        if partner_id is not None:
            stmt = stmt.where(policies.c.partner_id == partner_id)
        seen: set[str] = set()
        out = []
        for row in self.conn.execute(stmt):
            if row.id not in seen:
                seen.add(row.id)
                out.append(row)
        return out

    def latest_report_on_policy(self, policy_id: str, trigger_type: str) -> sa.Row[Any] | None:
        """The latest applied report of a type about anything the policy is matched on."""
        keys = sa.select(policy_subjects.c.subject_key).where(
            policy_subjects.c.policy_id == policy_id
        )
        return self.conn.execute(
            sa.select(T)
            .where(T.c.subject_key.in_(keys), T.c.type == trigger_type, T.c.status == "processed")
            .order_by(T.c.observed_at.desc())
            .limit(1)
        ).first()

    def first_observed_fact(self, fact_key: str) -> datetime | None:
        """When the same fact (subject and data) was first reported and applied."""
        return self.conn.execute(
            sa.select(sa.func.min(T.c.observed_at)).where(
                T.c.fact_key == fact_key, T.c.status == "processed"
            )
        ).scalar()

    def first_observed(self, subject_key: str) -> datetime | None:
        """When anything was first reported about a subject (the loss was known from then),
        an announcement too early to decide anything (premature) included."""
        return self.conn.execute(
            sa.select(sa.func.min(T.c.observed_at)).where(
                T.c.subject_key == subject_key, T.c.status.in_(("processed", "premature"))
            )
        ).scalar()

    def policies_without_subjects(self, limit: int) -> list[sa.Row[Any]]:
        """Policies in force (or expired) not yet indexed for triggers: issued before claims."""
        indexed = sa.select(policy_subjects.c.policy_id).where(
            policy_subjects.c.policy_id == policies.c.id
        )
        return list(
            self.conn.execute(
                sa.select(policies)
                .where(policies.c.status.in_(("active", "expired")), ~sa.exists(indexed))
                .order_by(policies.c.id)
                .limit(limit)
            )
        )
