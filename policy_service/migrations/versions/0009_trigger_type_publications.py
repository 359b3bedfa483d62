"""Trigger types as files, published like editions: the text of each trigger type put in
force, who did it and when. The first start after this migration publishes the trigger
files on disk (they replace the types that were declared in code, unchanged).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import policy_service.adapters.tables

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trigger_type_publications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("content_hash", sa.String(length=80), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column(
            "recorded_at", policy_service.adapters.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_trigger_type_publications_name", "trigger_type_publications", ["name", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_trigger_type_publications_name", table_name="trigger_type_publications")
    op.drop_table("trigger_type_publications")
