"""Stored responses of requests sent with an Idempotency-Key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from policy_service.domain.records import AsIssued

from .sql import insert_many_returning
from .tables import idempotency_keys as t


@dataclass(frozen=True)
class StoredResponse:
    key: str
    fingerprint: str
    status_code: int
    #: the JSON answer; None when it is a policy as issued (policy_id), to be made again
    body: str | None
    policy_id: str | None = None


#: a stored answer: its JSON, or the policy it is as issued
Answer = str | AsIssued


def _answer(body: Answer) -> dict[str, str | None]:
    if isinstance(body, AsIssued):
        return {"response_body": None, "policy_id": body.policy_id}
    return {"response_body": body, "policy_id": None}


class IdempotencyRepository:
    """Stored responses of requests sent with an Idempotency-Key: the queries, on the connection of one unit of work."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def claim_many(
        self,
        partner_id: str,
        livemode: bool,
        entries: list[tuple[str, str, int, Answer]],
        now: datetime,
    ) -> set[str]:
        """Insert (key, fingerprint, status, answer) rows; returns the keys this call inserted.

        On PostgreSQL a concurrent transaction holding the same key makes this wait until it
        commits (then the key is not ours) or rolls back (then it is).
        """
        rows = [
            {
                "partner_id": partner_id,
                "livemode": livemode,
                "key": key,
                "fingerprint": fp,
                "status_code": status,
                **_answer(body),
                "created_at": now,
            }
            for key, fp, status, body in entries
        ]
        return insert_many_returning(self.conn, t, rows, "key")

    def update_response(
        self, partner_id: str, livemode: bool, key: str, status: int, body: Answer
    ) -> None:
        self.conn.execute(
            t.update()
            .where(t.c.partner_id == partner_id, t.c.livemode == livemode, t.c.key == key)
            .values(status_code=status, **_answer(body))
        )

    def fetch_many(
        self, partner_id: str, livemode: bool, keys: list[str]
    ) -> dict[str, StoredResponse]:
        if not keys:
            return {}
        rows = self.conn.execute(
            sa.select(
                t.c.key, t.c.fingerprint, t.c.status_code, t.c.response_body, t.c.policy_id
            ).where(t.c.partner_id == partner_id, t.c.livemode == livemode, t.c.key.in_(keys))
        )
        return {
            r.key: StoredResponse(r.key, r.fingerprint, r.status_code, r.response_body, r.policy_id)
            for r in rows
        }

    def purge_before(self, cutoff: datetime) -> int:
        return self.conn.execute(t.delete().where(t.c.created_at < cutoff)).rowcount
