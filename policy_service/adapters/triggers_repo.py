"""Trigger events (facts posted by providers) and what they match: the keys policies are
stored under, locks on a subject, the reports already applied."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from .sql import among, insert_ignoring_conflicts, insert_rows, keyset_page
from .tables import claims, policies, policy_subjects, trigger_events

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
    ) -> sa.Row[Any]:
        """Record what the report did; returns its row as stored."""
        return self.conn.execute(
            T.update()
            .where(T.c.id == trigger_id)
            .values(status=status, result=result, event_time=event_time)
            .returning(*T.c)
        ).one()

    def history(
        self, subject_key: str, fact_key: str, observed_at: datetime, trigger_id: str
    ) -> tuple[str | None, datetime | None, datetime | None]:
        """What was reported before about a subject, in one query: (the id of an applied
        report observed later, if any; when the same fact was first applied; when anything
        was first reported about the subject, premature announcements included)."""
        newer = (
            sa.select(T.c.id)
            .where(
                T.c.subject_key == subject_key,
                T.c.id != trigger_id,
                T.c.status == "processed",
                T.c.observed_at > observed_at,
            )
            .limit(1)
            .scalar_subquery()
        )
        first_fact = (
            sa.select(sa.func.min(T.c.observed_at))
            .where(T.c.fact_key == fact_key, T.c.status == "processed")
            .scalar_subquery()
        )
        first_seen = (
            sa.select(sa.func.min(T.c.observed_at))
            .where(T.c.subject_key == subject_key, T.c.status.in_(("processed", "premature")))
            .scalar_subquery()
        )
        row = self.conn.execute(sa.select(newer, first_fact, first_seen)).one()
        return (None if row[0] is None else str(row[0]), row[1], row[2])

    def list_page(
        self,
        limit: int,
        starting_after: str | None,
        *,
        livemode: bool | None,
        source_id: str | None = None,
        claims_of_partner: str | None = None,
        trigger_type: str | None = None,
        status: str | None = None,
        observed_from: datetime | None = None,
        observed_before: datetime | None = None,
        subject: dict[str, str] | None = None,
        subject_key: str | None = None,
    ) -> tuple[list[sa.Row[Any]], bool]:
        """Trigger events, newest first: those `source_id` posted, or (with
        `claims_of_partner`) those too that decided a claim of that partner's policies;
        `subject`: fields of the fact, each equal to its text."""
        stmt = sa.select(T)
        if livemode is not None:
            stmt = stmt.where(T.c.livemode == livemode)
        seen = []
        if source_id is not None:
            seen.append(T.c.source_id == source_id)
        if claims_of_partner is not None:
            seen.append(
                T.c.id.in_(
                    sa.select(claims.c.trigger_event_id).where(
                        claims.c.partner_id == claims_of_partner,
                        claims.c.trigger_event_id.is_not(None),
                    )
                )
            )
        if seen:
            stmt = stmt.where(sa.or_(*seen))
        for column, value in (
            (T.c.type, trigger_type),
            (T.c.status, status),
            (T.c.subject_key, subject_key),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if observed_from is not None:
            stmt = stmt.where(T.c.observed_at >= observed_from)
        if observed_before is not None:
            stmt = stmt.where(T.c.observed_at < observed_before)
        for name, text in (subject or {}).items():
            stmt = stmt.where(T.c.data[name].as_string() == text)
        return keyset_page(self.conn, stmt, T.c.id, limit, starting_after)

    def reported_on(self, subject_keys: list[str]) -> bool:
        """Whether any report about one of these subjects was received."""
        found = self.conn.execute(
            sa.select(T.c.id).where(among(self.conn, T.c.subject_key, subject_keys)).limit(1)
        ).first()
        return found is not None

    def policies_under(self, subject_keys: set[str]) -> list[Any]:
        """Every policy stored under any of these keys, whatever its status (an incident's
        page), oldest first."""
        if not subject_keys:
            return []
        ids = sa.select(policy_subjects.c.policy_id).where(
            among(self.conn, policy_subjects.c.subject_key, sorted(subject_keys))
        )
        return list(
            self.conn.execute(
                sa.select(policies).where(policies.c.id.in_(ids)).order_by(policies.c.id)
            )
        )

    def lock_subjects(self, keys: list[str]) -> None:
        """Serialise the processing of reports on each subject or piece of evidence, taken
        in the order given, in one round trip (SQLite serialises every write anyway)."""
        if self.conn.dialect.name == "postgresql" and keys:
            locks = ", ".join(f"pg_advisory_xact_lock(:k{i})" for i in range(len(keys)))
            self.conn.execute(
                sa.text(f"SELECT {locks}"), {f"k{i}": int(k[:15], 16) for i, k in enumerate(keys)}
            )

    def insert_subjects(self, rows: list[dict[str, Any]]) -> None:
        insert_rows(self.conn, policy_subjects, rows, ignore_conflicts=True)

    def replace_subjects(self, policy_id: str, partner_id: str, keys: list[str]) -> None:
        """The keys a policy is found by, after its risk changed (an endorsement)."""
        self.conn.execute(policy_subjects.delete().where(policy_subjects.c.policy_id == policy_id))
        self.insert_subjects(
            [{"subject_key": k, "policy_id": policy_id, "partner_id": partner_id} for k in keys]
        )

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
                among(self.conn, policy_subjects.c.subject_key, sorted(subject_keys))
            )
        ).scalars()
        wanted = sorted(set(ids))
        if not wanted:
            return []
        stmt = (
            sa.select(policies)
            .where(among(self.conn, policies.c.id, wanted), policies.c.status.in_(statuses))
            .order_by(policies.c.id)
            .with_for_update()
        )
        if partner_id is not None:
            stmt = stmt.where(policies.c.partner_id == partner_id)
        rows = list(self.conn.execute(stmt))
        # Read again under the row locks: an endorsement that committed while we waited
        # may have moved a policy off these subjects (PostgreSQL reads committed rows).
        still = set(
            self.conn.execute(
                sa.select(policy_subjects.c.policy_id).where(
                    among(self.conn, policy_subjects.c.subject_key, sorted(subject_keys)),
                    among(self.conn, policy_subjects.c.policy_id, [r.id for r in rows]),
                )
            ).scalars()
        )
        seen: set[str] = set()
        out = []
        for row in rows:
            if row.id not in seen and row.id in still:
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
