"""Rate limits: a partner's or a data provider's own limit of requests per key (null: the
service's RATE_LIMIT_DEFAULT); console login failures counted per account and client
address, so that a lock holds only the address that guessed.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import policy_service.adapters.tables

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.add_column(sa.Column("rate_limit", sa.String(length=40), nullable=True))
    with op.batch_alter_table("data_providers") as batch:
        batch.add_column(sa.Column("rate_limit", sa.String(length=40), nullable=True))
    op.create_table(
        "staff_login_failures",
        sa.Column("staff_id", sa.String(length=40), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column(
            "locked_until",
            policy_service.adapters.tables.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"]),
        sa.PrimaryKeyConstraint("staff_id", "address"),
    )


def downgrade() -> None:
    op.drop_table("staff_login_failures")
    with op.batch_alter_table("data_providers") as batch:
        batch.drop_column("rate_limit")
    with op.batch_alter_table("partners") as batch:
        batch.drop_column("rate_limit")
