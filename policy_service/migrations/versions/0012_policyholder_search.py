"""Customer service finds a person's policies: by the keyed hash of an ID number, a phone
or a name (partial indexes: only rows that name a policyholder); and an incident's
claims, by the trigger event that decided them.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_COLUMNS = ("policyholder_id_hash", "policyholder_phone", "policyholder_name")


def upgrade() -> None:
    op.create_index(op.f("ix_claims_trigger_event_id"), "claims", ["trigger_event_id"])
    for column in _COLUMNS:
        op.create_index(
            f"ix_policies_{column}",
            "policies",
            [column],
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
            sqlite_where=sa.text(f"{column} IS NOT NULL"),
        )


def downgrade() -> None:
    for column in _COLUMNS:
        op.drop_index(f"ix_policies_{column}", table_name="policies")
    op.drop_index(op.f("ix_claims_trigger_event_id"), table_name="claims")
