"""Slimmer rows for an issued policy: its rendering is kept once, not three times.

- idempotency_keys: a stored answer that was a policy as issued names the policy
  (policy_id) instead of holding its JSON; exactly one of the two is set.
- events: a policy.issued event may leave its data null (rebuilt from the policy's row).
- policies: when the premium was priced (priced_at: at issue, or when its quote was
  made); the worksheet may then be null (rebuilt from the pinned edition, the risk and
  priced_at).

Existing rows keep what they hold.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import policy_service.adapters.tables

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_JSON = policy_service.adapters.tables.JSONDoc
_UTC = policy_service.adapters.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("policy_id", sa.String(40), nullable=True))
        batch_op.alter_column("response_body", existing_type=sa.Text(), nullable=True)
        batch_op.create_check_constraint(
            "body_or_policy", "(response_body is null) <> (policy_id is null)"
        )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column("data", existing_type=_JSON, nullable=True)
        batch_op.create_check_constraint("data", "data is not null or type = 'policy.issued'")
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priced_at", _UTC, nullable=True))
        batch_op.alter_column("worksheet", existing_type=_JSON, nullable=True)


def downgrade() -> None:
    # The old code cannot rebuild what these rows leave out: refuse rather than lose it.
    conn = op.get_bind()
    for table, column in (
        ("idempotency_keys", "response_body"),
        ("events", "data"),
        ("policies", "worksheet"),
    ):
        count = conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE {column} IS NULL"))
        if count.scalar_one():
            raise RuntimeError(
                f"cannot downgrade below 0008: {table} has rows without {column}, which "
                "only 0008's code rebuilds"
            )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_idempotency_keys_body_or_policy"), type_="check")
        batch_op.alter_column("response_body", existing_type=sa.Text(), nullable=False)
        batch_op.drop_column("policy_id")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_events_data"), type_="check")
        batch_op.alter_column("data", existing_type=_JSON, nullable=False)
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.alter_column("worksheet", existing_type=_JSON, nullable=False)
        batch_op.drop_column("priced_at")
