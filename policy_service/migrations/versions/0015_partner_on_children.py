"""partner_id on the rows that reached their partner only through a parent: webhook
attempts (through their delivery), claim attachments and the claim audit (through their
claim). A distributed PostgreSQL keeps a partner's rows together by partner_id
(docs/scaling.md); each row takes its parent's partner.

The claim audit is append-only (migration 0004): its triggers are lifted for the copy
and put back, in the same transaction.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

#: (table, its parent, the key to the parent)
CHILDREN = (
    ("webhook_attempts", "webhook_deliveries", "delivery_id"),
    ("claim_attachments", "claims", "claim_id"),
    ("claim_audit", "claims", "claim_id"),
)
APPEND_ONLY = "claim_audit"


def upgrade() -> None:
    _drop_append_only(APPEND_ONLY)
    for table, parent, key in CHILDREN:
        op.add_column(table, sa.Column("partner_id", sa.String(length=40), nullable=True))
        op.execute(
            f"UPDATE {table} SET partner_id = "
            f"(SELECT partner_id FROM {parent} WHERE {parent}.id = {table}.{key})"
        )
        with op.batch_alter_table(table) as batch:
            batch.alter_column("partner_id", existing_type=sa.String(length=40), nullable=False)
            batch.create_foreign_key(
                batch.f(f"fk_{table}_partner_id_partners"), "partners", ["partner_id"], ["id"]
            )
    _append_only(APPEND_ONLY)


def downgrade() -> None:
    _drop_append_only(APPEND_ONLY)
    for table, _, _ in CHILDREN:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(batch.f(f"fk_{table}_partner_id_partners"), type_="foreignkey")
            batch.drop_column("partner_id")
    _append_only(APPEND_ONLY)


# as in 0004: a migration keeps working whatever later code becomes
def _append_only(table: str) -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{table} is append-only';
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER {table}_no_update BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION {table}_append_only();
            """
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def _drop_append_only(table: str) -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {table}_no_update ON {table}")
        op.execute(f"DROP FUNCTION {table}_append_only()")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER {table}_no_{verb}")
