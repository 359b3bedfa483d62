"""On PostgreSQL, the tables the database numbers (ledger_entries, claim_audit,
webhook_attempts) are keyed by (id, partner_id) too, as a distributed PostgreSQL needs
(docs/scaling.md): their ids still come from their sequences. On SQLite their key stays
the integer id alone, the rowid: SQLite numbers only a one-column integer key, and one
SQLite file is never distributed (the id alone is unique, which (id, partner_id) is too).

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

NUMBERED = ("ledger_entries", "claim_audit", "webhook_attempts")


def upgrade() -> None:
    _rekey(("id", "partner_id"))


def downgrade() -> None:
    _rekey(("id",))


def _rekey(columns: tuple[str, ...]) -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table in NUMBERED:
        # one statement: the table is never without its key
        op.execute(
            f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}, "
            f"ADD CONSTRAINT pk_{table} PRIMARY KEY ({', '.join(columns)})"
        )
