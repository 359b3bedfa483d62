"""Privacy requests: exports, erasures and the retention sweep, recorded without the
person they were about.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import policy_service.adapters.tables

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=True),
        sa.Column("livemode", sa.Boolean(), nullable=True),
        sa.Column("requested_by", sa.String(length=60), nullable=False),
        sa.Column("policies", policy_service.adapters.tables.JSONDoc, nullable=False),
        sa.Column("kept", policy_service.adapters.tables.JSONDoc, nullable=False),
        sa.Column(
            "created_at", policy_service.adapters.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.CheckConstraint(
            "kind in ('export', 'erasure', 'retention')", name=op.f("ck_privacy_requests_kind")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_privacy_requests_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )


def downgrade() -> None:
    op.drop_table("privacy_requests")
