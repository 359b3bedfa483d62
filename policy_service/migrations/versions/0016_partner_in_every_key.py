"""The partner in every key of a partner's rows, as a distributed PostgreSQL needs
(docs/scaling.md, tests/unit/test_distribution_rules.py):

- the primary key of each partner-owned table with a text id becomes (id, partner_id):
  id first, so that a lookup by id alone still uses the key's index;
- every unique constraint and partial unique index among them gains partner_id (a row
  names its partner through its parent, so what each refuses is unchanged), but for
  payments.payment_intent: the payment API's id stays unique across partners;
- every foreign key between them becomes (column, partner_id) -> (id, partner_id): a
  row can no longer point at another partner's row;
- cover locks and trigger subjects carry their policy's partner, for the same key.

The tables numbered by the database (ledger_entries, claim_audit, webhook_attempts) keep
id alone as their key: SQLite numbers only a one-column integer key.

On PostgreSQL this rebuilds the keys of the largest tables under an exclusive lock: on a
big database, run it in a maintenance window (docs/scaling.md says how long it took).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

#: partner-owned tables keyed by a text id
KEYED = (
    "quotes", "policies", "policy_endorsements", "events", "webhook_endpoints",
    "webhook_deliveries", "payments", "refunds", "statements", "claims", "claim_payouts",
    "claim_attachments",
)  # fmt: skip
#: (table, column, parent): foreign keys between a partner's rows
KEYS = (
    ("policies", "quote_id", "quotes"),
    ("policy_endorsements", "policy_id", "policies"),
    ("webhook_deliveries", "event_id", "events"),
    ("webhook_deliveries", "endpoint_id", "webhook_endpoints"),
    ("webhook_attempts", "delivery_id", "webhook_deliveries"),
    ("payments", "policy_id", "policies"),
    ("payments", "endorsement_id", "policy_endorsements"),
    ("refunds", "policy_id", "policies"),
    ("refunds", "endorsement_id", "policy_endorsements"),
    ("refunds", "payment_id", "payments"),
    ("ledger_entries", "policy_id", "policies"),
    ("ledger_entries", "claim_id", "claims"),
    ("ledger_entries", "payout_id", "claim_payouts"),
    ("ledger_entries", "statement_id", "statements"),
    ("ledger_entries", "endorsement_id", "policy_endorsements"),
    ("claims", "policy_id", "policies"),
    ("claim_payouts", "claim_id", "claims"),
    ("claim_payouts", "policy_id", "policies"),
    ("claim_attachments", "claim_id", "claims"),
    ("claim_audit", "claim_id", "claims"),
    ("cover_locks", "policy_id", "policies"),
    ("policy_subjects", "policy_id", "policies"),
)
#: (table, columns): unique constraints, partner_id added last
UNIQUES = (
    ("policies", ("quote_id",)),
    ("policy_endorsements", ("policy_id", "version")),
    ("webhook_deliveries", ("event_id", "endpoint_id")),
    ("webhook_attempts", ("delivery_id", "number")),
    ("claim_payouts", ("claim_id", "sequence")),
    ("claim_payouts", ("claim_id", "paid_before")),
    ("claim_payouts", ("claim_id", "paid_after")),
)
#: (name, table, columns, where): partial unique indexes, partner_id added last
PARTIAL = (
    ("uq_payments_premium", "payments", ("policy_id",), "purpose = 'premium'"),
    ("uq_refunds_premium", "refunds", ("policy_id",), "kind = 'premium'"),
    ("uq_refunds_endorsement", "refunds", ("endorsement_id",), "endorsement_id IS NOT NULL"),
    ("uq_refunds_returned", "refunds", ("payment_id",), "kind = 'returned'"),
    (
        "uq_ledger_entries_policy_premium_refund", "ledger_entries", ("policy_id", "kind"),
        "kind in ('premium', 'refund')",
    ),
    ("uq_ledger_entries_endorsement", "ledger_entries", ("endorsement_id",), "endorsement_id IS NOT NULL"),
    ("uq_ledger_entries_payout", "ledger_entries", ("payout_id",), "payout_id IS NOT NULL"),
    ("uq_claims_policy_loss", "claims", ("policy_id", "loss_key"), "status <> 'rejected'"),
)  # fmt: skip
#: each top-up of a claim starts where one of its payouts ended
FOLLOWS = "fk_claim_payouts_follows"
#: the append-only claim audit (migration 0004), rebuilt here on SQLite
APPEND_ONLY = "claim_audit"
#: risk-keyed tables that name a policy, and take its partner
NAMING_A_POLICY = ("cover_locks", "policy_subjects")


def upgrade() -> None:
    for table in NAMING_A_POLICY:
        op.add_column(table, sa.Column("partner_id", sa.String(length=40), nullable=True))
        op.execute(
            f"UPDATE {table} SET partner_id = "
            f"(SELECT partner_id FROM policies WHERE policies.id = {table}.policy_id)"
        )
        with op.batch_alter_table(table) as batch:
            batch.alter_column("partner_id", existing_type=sa.String(length=40), nullable=False)
            batch.create_foreign_key(
                batch.f(f"fk_{table}_partner_id_partners"), "partners", ["partner_id"], ["id"]
            )
    _rekey(with_partner=True)


def downgrade() -> None:
    _rekey(with_partner=False)
    for table in NAMING_A_POLICY:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(batch.f(f"fk_{table}_partner_id_partners"), type_="foreignkey")
            batch.drop_column("partner_id")


def _rekey(with_partner: bool) -> None:
    """Every key, constraint and index above, rebuilt with partner_id (or without): the
    foreign keys go first and come back last, since they lean on the keys."""
    extra = ("partner_id",) if with_partner else ()
    had = () if with_partner else ("partner_id",)
    tables = sorted({t for t, _, _ in KEYS} | set(KEYED) | {t for t, _ in UNIQUES})
    sqlite = op.get_context().dialect.name == "sqlite"
    if sqlite:  # a rebuilt SQLite table loses its triggers: the audit's come back below
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER {APPEND_ONLY}_no_{verb}")
    for table in tables:
        with op.batch_alter_table(table) as batch:
            for name, _, _ in _keys_of(table):
                batch.drop_constraint(name, type_="foreignkey")
            if table == "claim_payouts":
                batch.drop_constraint(FOLLOWS, type_="foreignkey")
    for table in tables:
        with op.batch_alter_table(table) as batch:
            for columns in _uniques_of(table):
                batch.drop_constraint(_unique_name(table, (*columns, *had)), type_="unique")
            for name, _, _ in _partials_of(table):
                batch.drop_index(name)
            if table in KEYED:
                batch.drop_constraint(f"pk_{table}", type_="primary")
    for table in tables:
        with op.batch_alter_table(table) as batch:
            if table in KEYED:
                batch.create_primary_key(f"pk_{table}", ["id", *extra])
            for columns in _uniques_of(table):
                batch.create_unique_constraint(
                    _unique_name(table, (*columns, *extra)), [*columns, *extra]
                )
            for name, columns, where in _partials_of(table):
                batch.create_index(
                    name,
                    [*columns, *extra],
                    unique=True,
                    postgresql_where=sa.text(where),
                    sqlite_where=sa.text(where),
                )
    for table in tables:
        with op.batch_alter_table(table) as batch:
            for name, column, parent in _keys_of(table):
                batch.create_foreign_key(name, parent, [column, *extra], ["id", *extra])
            if table == "claim_payouts":
                batch.create_foreign_key(
                    FOLLOWS,
                    "claim_payouts",
                    ["claim_id", "paid_before", *extra],
                    ["claim_id", "paid_after", *extra],
                )
    if sqlite:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {APPEND_ONLY}_no_{verb.lower()} BEFORE {verb} ON {APPEND_ONLY} "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY} is append-only'); END"
            )


def _keys_of(table: str) -> list[tuple[str, str, str]]:
    return [(f"fk_{t}_{c}_{p}", c, p) for t, c, p in KEYS if t == table]


def _uniques_of(table: str) -> list[tuple[str, ...]]:
    return [columns for t, columns in UNIQUES if t == table]


def _partials_of(table: str) -> list[tuple[str, tuple[str, ...], str]]:
    return [(name, columns, where) for name, t, columns, where in PARTIAL if t == table]


def _unique_name(table: str, columns: tuple[str, ...]) -> str:
    return f"uq_{table}_{'_'.join(columns)}"
