"""What is held about a person, and its erasure: policyholder columns of policies and
endorsements, the personal parts of claims and attachments, copies of a policy's JSON in
events and idempotency records; and the record of each privacy request."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from policy_service.domain.claims import OPEN_STATUSES

from .sql import insert_rows
from .tables import (
    claim_attachments,
    claims,
    events,
    idempotency_keys,
    policies,
    policy_endorsements,
    privacy_requests,
    webhook_attempts,
    webhook_deliveries,
)

#: what an erased name reads as; an erased ID hash starts with the same word
ERASED = "[erased]"


#: a stored answer that named an erased person, as a retry with its key now gets it
ERASED_ANSWER = (
    '{"error": {"type": "invalid_request", "code": "answer_erased", "message": '
    '"this answer named a person whose data has been erased"}}'
)


def erased_hash() -> str:
    """A stand-in for an ID hash: unique (nothing can match it), and marked as erased."""
    return "erased-" + secrets.token_hex(28)


def scrub(document: Any) -> Any:
    """A JSON document with every policyholder in it erased: an object with id_last4 (a
    policy's policyholder), and an endorsement's changes of policyholder details."""
    if isinstance(document, list):
        return [scrub(x) for x in document]
    if not isinstance(document, dict):
        return document
    out = {k: scrub(v) for k, v in document.items()}
    if "id_last4" in out:
        out.update(name=ERASED, phone=None, id_last4="****")
    if out.get("object") == "claim":  # what the partner and the reviewers wrote
        if out.get("description"):
            out["description"] = ERASED
        out["evidence"] = {}
        decision = out.get("decision")
        if isinstance(decision, dict) and decision.get("reason"):
            out["decision"] = {**decision, "reason": ERASED}
    changes = out.get("changes")
    if isinstance(changes, dict):
        out["changes"] = {
            k: {"from": ERASED, "to": ERASED} if k.startswith("policyholder.") else v
            for k, v in changes.items()
        }
    return out


class PrivacyRepository:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def policies_of_holder(
        self, id_hashes: Iterable[str], partner_id: str | None, livemode: bool | None
    ) -> list[sa.Row[Any]]:
        stmt = sa.select(policies).where(policies.c.policyholder_id_hash.in_(list(id_hashes)))
        if partner_id is not None:
            stmt = stmt.where(policies.c.partner_id == partner_id)
        if livemode is not None:
            stmt = stmt.where(policies.c.livemode == livemode)
        return list(self.conn.execute(stmt.order_by(policies.c.id).with_for_update()))

    def retained_past(self, ended_before: datetime, limit: int) -> list[sa.Row[Any]]:
        """Policies naming a person whose cover ended before `ended_before` (the retention
        sweep), not erased yet."""
        return list(
            self.conn.execute(
                sa.select(policies)
                .where(
                    policies.c.policyholder_id_hash.is_not(None),
                    ~policies.c.policyholder_id_hash.startswith("erased-"),
                    policies.c.coverage_end < ended_before,
                    policies.c.status != "pending_payment",
                    # what an erasure would keep is not picked, so a batch is never stuck
                    ~sa.exists().where(
                        claims.c.policy_id == policies.c.id,
                        claims.c.status.in_(OPEN_STATUSES),
                    ),
                )
                .order_by(policies.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )

    def erase_policies(self, policy_ids: list[str], now: datetime) -> None:
        for policy_id in policy_ids:  # each its own stand-in hash
            self.conn.execute(
                policies.update()
                .where(policies.c.id == policy_id)
                .values(
                    policyholder_name=ERASED,
                    policyholder_phone=None,
                    policyholder_id_hash=erased_hash(),
                    policyholder_id_last4="****",
                    updated_at=now,
                )
            )
        changed = self.conn.execute(
            sa.select(policy_endorsements.c.id, policy_endorsements.c.holder_before).where(
                policy_endorsements.c.policy_id.in_(policy_ids),
                policy_endorsements.c.holder_before.is_not(None),
            )
        ).all()
        for row in changed:
            erased = {"name": ERASED, "phone": None}
            self.conn.execute(
                policy_endorsements.update()
                .where(policy_endorsements.c.id == row.id)
                .values(holder_before=erased, holder_after=erased)
            )

    def erase_claims(self, policy_ids: list[str]) -> list[str]:
        """The claims' free text and evidence, and their holder key; returns the sha256 of
        each attachment of theirs (the files are the caller's to delete)."""
        ids = list(
            self.conn.execute(sa.select(claims.c.id).where(claims.c.policy_id.in_(policy_ids)))
            .scalars()
            .all()
        )
        if not ids:
            return []
        self.conn.execute(
            claims.update()
            .where(claims.c.id.in_(ids))
            .values(
                description=sa.case((claims.c.description.is_(None), None), else_=ERASED),
                decision_reason=sa.case((claims.c.decision_reason.is_(None), None), else_=ERASED),
                evidence={},
                holder_key=None,
            )
        )
        files = list(
            self.conn.execute(
                sa.select(claim_attachments.c.sha256).where(claim_attachments.c.claim_id.in_(ids))
            ).scalars()
        )
        self.conn.execute(
            claim_attachments.update()
            .where(claim_attachments.c.claim_id.in_(ids))
            .values(file_name=ERASED)
        )
        return files

    def file_still_used(self, sha256: str) -> bool:
        """Whether an attachment not erased still points at the file."""
        return (
            self.conn.execute(
                sa.select(claim_attachments.c.id).where(
                    claim_attachments.c.sha256 == sha256, claim_attachments.c.file_name != ERASED
                )
            ).first()
            is not None
        )

    def scrub_copies(self, policy_ids: list[str], stored_answers: bool = True) -> None:
        """Events about the policies (and their claims) keep a copy of the policy's JSON,
        and so may a stored answer (`stored_answers`: look for them; they are kept
        IDEMPOTENCY_TTL_HOURS only): the person is erased from every copy."""
        claim_ids = sa.select(claims.c.id).where(claims.c.policy_id.in_(policy_ids))
        rows = self.conn.execute(
            sa.select(events.c.id, events.c.data).where(
                sa.or_(events.c.object_id.in_(policy_ids), events.c.object_id.in_(claim_ids)),
                events.c.data.is_not(None),
            )
        ).all()
        for row in rows:
            self.conn.execute(
                events.update().where(events.c.id == row.id).values(data=scrub(row.data))
            )
        # a receiver's answer may echo what it was sent
        about = sa.select(events.c.id).where(
            sa.or_(events.c.object_id.in_(policy_ids), events.c.object_id.in_(claim_ids))
        )
        deliveries = sa.select(webhook_deliveries.c.id).where(
            webhook_deliveries.c.event_id.in_(about)
        )
        self.conn.execute(
            webhook_attempts.update()
            .where(webhook_attempts.c.delivery_id.in_(deliveries))
            .values(response_excerpt=None)
        )
        if not stored_answers:
            return
        for policy_id in policy_ids:
            # answered from now on with this, not run again (a batch could reissue others)
            self.conn.execute(
                idempotency_keys.update()
                .where(idempotency_keys.c.response_body.contains(policy_id))
                .values(status_code=410, response_body=ERASED_ANSWER)
            )

    def record(self, row: dict[str, Any]) -> None:
        insert_rows(self.conn, privacy_requests, [row], ignore_conflicts=False)
