"""Console logins: staff.sessions_revoked_at voids the sessions started before it;
failed_logins and locked_until slow down password guessing

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import policy_service.adapters.tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite rebuilds the table; PostgreSQL adds the column in place
    with op.batch_alter_table("staff") as batch:
        batch.add_column(
            sa.Column(
                "sessions_revoked_at",
                policy_service.adapters.tables.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
        batch.add_column(
            sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column(
                "locked_until",
                policy_service.adapters.tables.UTCDateTime(timezone=True),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("staff") as batch:
        batch.drop_column("locked_until")
        batch.drop_column("failed_logins")
        batch.drop_column("sessions_revoked_at")
