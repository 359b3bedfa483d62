"""Webhook endpoints, deliveries (one per event and endpoint) and their attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from .sql import insert_rows, keyset_page
from .tables import events, webhook_attempts, webhook_deliveries, webhook_endpoints

E, D, A = webhook_endpoints, webhook_deliveries, webhook_attempts


@dataclass(frozen=True)
class Claimed:
    """A delivery a worker holds under a lease, with all it needs to send it."""

    delivery_id: str
    attempt_id: int
    number: int
    worker: str
    generation: int
    event_id: str
    endpoint_id: str
    partner_id: str
    livemode: bool
    url: str
    secrets: list[str]
    event: dict[str, Any]
    first_attempt_at: datetime


class WebhooksRepository:
    """Webhook endpoints, deliveries (one per event and endpoint) and their attempts: the queries, on the connection of one unit of work."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def insert_endpoint(self, row: dict[str, Any]) -> None:
        self.conn.execute(E.insert().values(**row))

    def get_endpoint(
        self, partner_id: str, livemode: bool, endpoint_id: str, for_update: bool = False
    ) -> sa.Row[Any] | None:
        stmt = sa.select(E).where(
            E.c.id == endpoint_id,
            E.c.partner_id == partner_id,
            E.c.livemode == livemode,
            E.c.deleted_at.is_(None),
        )
        if for_update:
            stmt = stmt.with_for_update()
        return self.conn.execute(stmt).first()

    def list_endpoints(
        self, partner_id: str, livemode: bool, limit: int, starting_after: str | None
    ) -> tuple[list[sa.Row[Any]], bool]:
        stmt = sa.select(E).where(
            E.c.partner_id == partner_id, E.c.livemode == livemode, E.c.deleted_at.is_(None)
        )
        return keyset_page(self.conn, stmt, E.c.id, limit, starting_after)

    def update_endpoint(self, endpoint_id: str, **values: Any) -> None:
        self.conn.execute(E.update().where(E.c.id == endpoint_id).values(**values))

    def clear_failing_of(self, endpoint_ids: set[str]) -> None:
        # Only where set: most successes then write nothing to the endpoints' rows.
        if endpoint_ids:
            self.conn.execute(
                E.update()
                .where(E.c.id.in_(sorted(endpoint_ids)), E.c.failing_since.is_not(None))
                .values(failing_since=None)
            )

    def enabled_endpoints_of(self, owners: set[tuple[str, bool]]) -> list[Any]:
        """Enabled endpoints of these (partner_id, livemode) pairs."""
        if not owners:
            return []
        partner_ids = {p for p, _ in owners}
        rows = self.conn.execute(
            sa.select(E.c.id, E.c.partner_id, E.c.livemode, E.c.events, E.c.created_at).where(
                E.c.partner_id.in_(partner_ids), E.c.status == "enabled", E.c.deleted_at.is_(None)
            )
        )
        return [r for r in rows if (r.partner_id, r.livemode) in owners]

    def insert_deliveries(self, rows: list[dict[str, Any]]) -> None:
        # held with the events they point at when holding is on (adapters/held_inserts.py)
        insert_rows(self.conn, D, rows, ignore_conflicts=True)

    def get_delivery_for(self, event_id: str, endpoint_id: str) -> sa.Row[Any] | None:
        return self.conn.execute(
            sa.select(D).where(D.c.event_id == event_id, D.c.endpoint_id == endpoint_id)
        ).first()

    def reset_delivery(self, delivery_id: str, now: datetime) -> None:
        """Resend: due now, with a fresh retry window. A running attempt keeps its lease, but the
        new generation stops it from settling the delivery (its outcome is still recorded)."""
        self.conn.execute(
            D.update()
            .where(D.c.id == delivery_id)
            .values(
                status="pending",
                next_attempt_at=now,
                first_attempt_at=None,
                generation=D.c.generation + 1,
                updated_at=now,
            )
        )

    def pause_deliveries(self, endpoint_id: str, now: datetime) -> None:
        """The endpoint is disabled: its pending deliveries wait, out of the workers' way."""
        self.conn.execute(
            D.update()
            .where(D.c.endpoint_id == endpoint_id, D.c.status == "pending")
            .values(status="paused", updated_at=now)
        )

    def resume_deliveries(self, endpoint_id: str, now: datetime) -> None:
        self.conn.execute(
            D.update()
            .where(D.c.endpoint_id == endpoint_id, D.c.status == "paused")
            .values(status="pending", next_attempt_at=now, updated_at=now)
        )

    def drop_deliveries(self, endpoint_id: str, now: datetime) -> None:
        """The endpoint is deleted: what was still to send is given up."""
        self.conn.execute(
            D.update()
            .where(D.c.endpoint_id == endpoint_id, D.c.status.in_(("pending", "paused")))
            .values(status="failed", next_attempt_at=None, updated_at=now)
        )

    def deliveries_of_events(self, event_ids: list[str]) -> dict[str, list[sa.Row[Any]]]:
        """event id -> its deliveries (with the endpoint's url), in the order they were made."""
        out: dict[str, list[sa.Row[Any]]] = {e: [] for e in event_ids}
        if event_ids:
            stmt = (
                sa.select(D, E.c.url)
                .join(E, E.c.id == D.c.endpoint_id)
                .where(D.c.event_id.in_(event_ids))
                .order_by(D.c.event_id, D.c.id)
            )
            for row in self.conn.execute(stmt):
                out[row.event_id].append(row)
        return out

    def attempts_of(self, delivery_ids: list[str]) -> dict[str, list[sa.Row[Any]]]:
        out: dict[str, list[sa.Row[Any]]] = {d: [] for d in delivery_ids}
        if delivery_ids:
            rows = self.conn.execute(
                sa.select(A)
                .where(A.c.delivery_id.in_(delivery_ids))
                .order_by(A.c.delivery_id, A.c.number)
            )
            for row in rows:
                out[row.delivery_id].append(row)
        return out

    def outbox(self, now: datetime) -> tuple[int, datetime | None, int, datetime | None]:
        """(events not fanned out, the oldest's time, deliveries not done, the oldest due)."""
        e, d = events, webhook_deliveries
        waiting_events = self.conn.execute(
            sa.select(sa.func.count(), sa.func.min(e.c.created_at)).where(
                e.c.dispatched_at.is_(None)
            )
        ).one()
        waiting = self.conn.execute(
            sa.select(sa.func.count(), sa.func.min(d.c.next_attempt_at)).where(
                d.c.status == "pending", d.c.next_attempt_at <= now
            )
        ).one()
        return waiting_events[0], waiting_events[1], waiting[0], waiting[1]

    def claim_due(
        self, worker: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Claimed]:
        """Take up to `limit` due deliveries of enabled endpoints and open an attempt for each."""
        # Deliveries of disabled or deleted endpoints are paused or failed, never pending, so
        # this reads the (status, next_attempt_at) index without wading through them.
        stmt = (
            sa.select(D.c.id)
            .where(
                D.c.status == "pending",
                D.c.next_attempt_at <= now,
                sa.or_(D.c.lease_until.is_(None), D.c.lease_until < now),
            )
            .order_by(D.c.next_attempt_at)
            .limit(limit)
        )
        if self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(of=D, skip_locked=True)
        ids = [r.id for r in self.conn.execute(stmt)]
        if not ids:
            return []
        # An attempt still open here belonged to a worker that lost its lease (killed, stalled).
        self.conn.execute(
            A.update()
            .where(A.c.delivery_id.in_(ids), A.c.outcome == "in_progress")
            .values(
                outcome="abandoned",
                finished_at=now,
                error="the worker lost its lease (killed or stalled)",
            )
        )
        self.conn.execute(
            D.update()
            .where(D.c.id.in_(ids))
            .values(
                attempt_count=D.c.attempt_count + 1,
                lease_until=lease_until,
                lease_owner=worker,
                first_attempt_at=sa.func.coalesce(D.c.first_attempt_at, now),
                updated_at=now,
            )
        )
        rows = self.conn.execute(
            sa.select(
                D.c.id,
                D.c.attempt_count,
                D.c.generation,
                D.c.event_id,
                D.c.endpoint_id,
                D.c.partner_id,
                D.c.livemode,
                D.c.first_attempt_at,
                E.c.url,
                E.c.secret,
                E.c.previous_secret,
                E.c.previous_secret_expires_at,
                events.c.type,
                events.c.data,
                events.c.created_at,
                events.c.object_type,
                events.c.object_id,
            )
            .join(E, E.c.id == D.c.endpoint_id)
            .join(events, events.c.id == D.c.event_id)
            .where(D.c.id.in_(ids))
        ).all()
        if not rows:
            return []
        self.conn.execute(
            A.insert(),
            [
                {
                    "delivery_id": r.id,
                    "partner_id": r.partner_id,
                    "number": r.attempt_count,
                    "worker": worker,
                    "started_at": now,
                    "outcome": "in_progress",
                }
                for r in rows
            ],
        )
        attempt_ids = {
            a.delivery_id: a.id
            for a in self.conn.execute(
                sa.select(A.c.id, A.c.delivery_id).where(
                    A.c.delivery_id.in_([r.id for r in rows]), A.c.outcome == "in_progress"
                )
            )
        }
        claimed = []
        for r in rows:
            secrets = [r.secret]
            if (
                r.previous_secret
                and r.previous_secret_expires_at
                and r.previous_secret_expires_at > now
            ):
                secrets.append(r.previous_secret)
            event = {
                "id": r.event_id,
                "type": r.type,
                "created": r.created_at,
                "livemode": r.livemode,
                "data": r.data,
                "object_id": r.object_id,
            }
            claimed.append(
                Claimed(
                    r.id,
                    attempt_ids[r.id],
                    r.attempt_count,
                    worker,
                    r.generation,
                    r.event_id,
                    r.endpoint_id,
                    r.partner_id,
                    r.livemode,
                    r.url,
                    secrets,
                    event,
                    r.first_attempt_at,
                )
            )
        return claimed

    def lock_deliveries(self, delivery_ids: list[str]) -> None:
        """Lock order for every writer: the delivery rows first (in the order given), then
        their attempts."""
        if self.conn.dialect.name == "postgresql":
            stmt = sa.select(D.c.id).where(D.c.id.in_(delivery_ids)).order_by(D.c.id)
            self.conn.execute(stmt.with_for_update())

    def lock_endpoints(self, endpoint_ids: list[str]) -> None:
        """After the deliveries, their endpoints (in the order given): a batch that clears
        one endpoint's failures and notes another's never waits on another batch doing
        the reverse."""
        if self.conn.dialect.name == "postgresql" and endpoint_ids:
            stmt = sa.select(E.c.id).where(E.c.id.in_(endpoint_ids)).order_by(E.c.id)
            self.conn.execute(stmt.with_for_update())

    def finish_attempt(self, attempt_id: int, **values: Any) -> None:
        self.finish_attempts([(attempt_id, values)])

    def finish_attempts(self, attempts: list[tuple[int, dict[str, Any]]]) -> None:
        """Close attempts, each with the same set of values (one statement, many rows)."""
        if not attempts:
            return
        names = sorted(attempts[0][1])
        # Also when marked abandoned meanwhile: a late answer is still the truth about it.
        self.conn.execute(
            A.update()
            .where(
                A.c.id == sa.bindparam("attempt_id"),
                # not IN (...): an expanding parameter cannot be used with executemany
                sa.or_(A.c.outcome == "in_progress", A.c.outcome == "abandoned"),
            )
            .values({n: sa.bindparam(f"v_{n}") for n in names}),
            [{"attempt_id": i, **{f"v_{n}": v[n] for n in names}} for i, v in attempts],
        )

    def mark_all_succeeded(self, claims: list[Claimed], now: datetime) -> None:
        """A 2xx settles the delivery even if the lease was lost meanwhile; not after a
        resend (a new generation). The lease is released either way."""
        if not claims:
            return
        self.conn.execute(
            D.update()
            .where(
                D.c.id == sa.bindparam("delivery_id"),
                D.c.generation == sa.bindparam("gen"),
                D.c.status == "pending",
            )
            .values(status="succeeded", delivered_at=now, next_attempt_at=None, updated_at=now),
            [{"delivery_id": c.delivery_id, "gen": c.generation} for c in claims],
        )
        held: dict[str, list[str]] = {}
        for c in claims:
            held.setdefault(c.worker, []).append(c.delivery_id)
        for worker, ids in held.items():
            self.conn.execute(
                D.update()
                .where(D.c.id.in_(ids), D.c.lease_owner == worker)
                .values(lease_until=None, lease_owner=None)
            )

    def settle_failure(self, claimed: Claimed, **values: Any) -> bool:
        """Schedule the retry (or give up) if this worker still holds this attempt."""
        result = self.conn.execute(
            D.update()
            .where(
                D.c.id == claimed.delivery_id,
                D.c.lease_owner == claimed.worker,
                D.c.attempt_count == claimed.number,
                D.c.generation == claimed.generation,
                D.c.status == "pending",
            )
            .values(lease_until=None, lease_owner=None, **values)
        )
        if result.rowcount == 0:
            self.release_lease(claimed)
        return result.rowcount == 1

    def release_lease(self, claimed: Claimed) -> None:
        self.conn.execute(
            D.update()
            .where(D.c.id == claimed.delivery_id, D.c.lease_owner == claimed.worker)
            .values(lease_until=None, lease_owner=None)
        )
