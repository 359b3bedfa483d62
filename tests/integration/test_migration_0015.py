"""Migration 0015 gives webhook attempts, claim attachments and the claim audit their
parent's partner_id (docs/scaling.md): rows written before it take their parent's, the
audit stays append-only through it, and it goes down and up again."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from policy_service.adapters.db import migrate, upgrade
from policy_service.adapters.tables import (
    claim_attachments,
    claim_audit,
    claims,
    events,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
)
from tests.integration.test_migrations import _a_policy, _claim_row, _scratch_engine

NOW = datetime(2026, 11, 25, tzinfo=UTC)
CHILDREN = (webhook_attempts, claim_attachments, claim_audit)
ATTACHMENT = ("id", "claim_id", "file_name", "content_type", "size", "sha256", "created_at")
AUDIT = ("claim_id", "at", "actor_type", "action", "to_status")
ATTEMPT = ("delivery_id", "number", "worker", "started_at", "outcome")


def _rows_before_0015(conn: sa.Connection) -> None:
    _a_policy(conn)  # partner ptn_x
    conn.execute(claims.insert().values(**_claim_row()))
    # as the tables were before 0015 (partner_id is part of their keys since 0016, 0017)
    audit = sa.table("claim_audit", *map(sa.column, AUDIT))
    conn.execute(
        audit.insert().values(
            claim_id="clm_x", at=NOW.replace(tzinfo=None), actor_type="system",
            action="submit", to_status="paid",
        )
    )  # fmt: skip
    before = sa.table("claim_attachments", *map(sa.column, ATTACHMENT))
    conn.execute(
        before.insert().values(
            id="att_1", claim_id="clm_x", file_name="a.jpg", content_type="image/jpeg",
            size=1, sha256="0" * 64, created_at=NOW.replace(tzinfo=None),
        )
    )  # fmt: skip
    mine = {"partner_id": "ptn_x", "livemode": False, "created_at": NOW}
    conn.execute(
        webhook_endpoints.insert().values(
            id="we_1", url="https://example.com/hook", events=["*"], status="enabled",
            secret="whsec_x", updated_at=NOW, **mine,
        )
    )  # fmt: skip
    conn.execute(
        events.insert().values(
            id="evt_1", type="claim.paid", object_type="claim", object_id="clm_x",
            data={}, **mine,
        )
    )  # fmt: skip
    conn.execute(
        webhook_deliveries.insert().values(
            id="whd_1", event_id="evt_1", endpoint_id="we_1", status="succeeded",
            updated_at=NOW, **mine,
        )
    )  # fmt: skip
    attempts = sa.table("webhook_attempts", *map(sa.column, ATTEMPT))
    conn.execute(
        attempts.insert().values(
            delivery_id="whd_1", number=1, worker="w", started_at=NOW.replace(tzinfo=None),
            outcome="succeeded",
        )
    )  # fmt: skip


def _audit_refuses_changes(eng: sa.Engine) -> None:
    for change in (claim_audit.update().values(reason="rewritten"), claim_audit.delete()):
        with pytest.raises(sa.exc.DBAPIError), eng.begin() as conn:
            conn.execute(change)


def test_children_take_their_parents_partner_and_the_audit_stays_append_only(
    tmp_path: Path,
) -> None:
    with _scratch_engine(tmp_path) as eng:
        upgrade(eng, "0014")
        with eng.begin() as conn:
            _rows_before_0015(conn)
        upgrade(eng)
        with eng.connect() as conn:
            for table in CHILDREN:
                assert conn.execute(sa.select(table.c.partner_id)).scalars().all() == ["ptn_x"]
        _audit_refuses_changes(eng)
        with pytest.raises(sa.exc.IntegrityError), eng.begin() as conn:
            conn.execute(
                claim_audit.insert().values(
                    claim_id="clm_x", partner_id="ptn_nobody", at=NOW, actor_type="system",
                    action="note",
                )
            )  # fmt: skip

        migrate(eng, lambda cfg: command.downgrade(cfg, "0014"))
        with eng.connect() as conn:
            inspector = sa.inspect(conn)
            for table in CHILDREN:
                columns = {c["name"] for c in inspector.get_columns(table.name)}
                assert "partner_id" not in columns
        _audit_refuses_changes(eng)
        upgrade(eng)
        with eng.connect() as conn:
            for table in CHILDREN:
                assert conn.execute(sa.select(table.c.partner_id)).scalars().all() == ["ptn_x"]
