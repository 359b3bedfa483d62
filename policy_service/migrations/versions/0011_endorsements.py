"""Endorsements: a policy changed after issue (a rebooked flight, a changed order).

- policies.version: 1 as issued, one more per endorsement;
- policy_endorsements: what each endorsement changed (risk, policyholder name and phone,
  premium and cover, before and after);
- ledger_entries: kind `endorsement` books an endorsement's premium difference (either
  sign), once per endorsement; one premium and one refund per policy as before.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import policy_service.adapters.tables

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_UTC = policy_service.adapters.tables.UTCDateTime(timezone=True)
_JSON = policy_service.adapters.tables.JSONDoc
_OPTIONAL_JSON = policy_service.adapters.tables.OptionalJSONDoc
_PARTS = ("total", "net", "tax", "commission", "fees")
# As written here, not imported: a migration must not change when tables.py does.
PREMIUM_OR_REFUND = "kind in ('premium', 'refund')"
SIGN_OF_KIND = (
    "(kind = 'premium' and amount > 0) or (kind in ('refund', 'payout') and amount < 0)"
    " or kind = 'endorsement'"
)


def upgrade() -> None:
    with op.batch_alter_table("policies") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch.create_check_constraint("version", "version >= 1")
    op.create_table(
        "policy_endorsements",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("policy_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("risk_before", _JSON, nullable=False),
        sa.Column("risk_after", _JSON, nullable=False),
        sa.Column("holder_before", _OPTIONAL_JSON, nullable=True),
        sa.Column("holder_after", _OPTIONAL_JSON, nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *(
            sa.Column(f"{side}_{part}", sa.BigInteger(), nullable=False)
            for side in ("before", "after")
            for part in _PARTS
        ),
        sa.Column("coverage_start_before", _UTC, nullable=False),
        sa.Column("coverage_end_before", _UTC, nullable=False),
        sa.Column("coverage_start_after", _UTC, nullable=False),
        sa.Column("coverage_end_after", _UTC, nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.CheckConstraint("version >= 2", name=op.f("ck_policy_endorsements_version")),
        *(
            sa.CheckConstraint(
                f"{side}_net + {side}_tax + {side}_commission + {side}_fees = {side}_total"
                f" and {side}_net >= 0 and {side}_tax >= 0 and {side}_commission >= 0"
                f" and {side}_fees >= 0",
                name=op.f(f"ck_policy_endorsements_premium_{side}"),
            )
            for side in ("before", "after")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_policy_endorsements_partner_id_partners")
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["policies.id"], name=op.f("fk_policy_endorsements_policy_id_policies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_endorsements")),
        sa.UniqueConstraint(
            "policy_id", "version", name=op.f("uq_policy_endorsements_policy_id_version")
        ),
    )
    with op.batch_alter_table("ledger_entries") as batch:
        batch.alter_column("kind", existing_type=sa.String(length=10), type_=sa.String(length=12))
        batch.add_column(sa.Column("endorsement_id", sa.String(length=40), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_ledger_entries_endorsement_id_policy_endorsements"),
            "policy_endorsements",
            ["endorsement_id"],
            ["id"],
        )
        batch.drop_constraint(batch.f("ck_ledger_entries_kind"), type_="check")
        batch.create_check_constraint(
            "kind", "kind in ('premium', 'refund', 'payout', 'endorsement')"
        )
        batch.drop_constraint(batch.f("ck_ledger_entries_sign_of_kind"), type_="check")
        batch.create_check_constraint("sign_of_kind", SIGN_OF_KIND)
        batch.create_check_constraint(
            "endorsement_names_its_endorsement",
            "(kind = 'endorsement') = (endorsement_id is not null)",
        )
        batch.drop_index(
            "uq_ledger_entries_policy_premium_refund", sqlite_where=sa.text("claim_id IS NULL")
        )
    with op.batch_alter_table("ledger_entries") as batch:
        batch.create_index(
            "uq_ledger_entries_policy_premium_refund",
            ["policy_id", "kind"],
            unique=True,
            postgresql_where=sa.text(PREMIUM_OR_REFUND),
            sqlite_where=sa.text(PREMIUM_OR_REFUND),
        )
        batch.create_index(
            "uq_ledger_entries_endorsement",
            ["endorsement_id"],
            unique=True,
            postgresql_where=sa.text("endorsement_id IS NOT NULL"),
            sqlite_where=sa.text("endorsement_id IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("ledger_entries") as batch:
        batch.drop_index(
            "uq_ledger_entries_endorsement", sqlite_where=sa.text("endorsement_id IS NOT NULL")
        )
        batch.drop_index(
            "uq_ledger_entries_policy_premium_refund", sqlite_where=sa.text(PREMIUM_OR_REFUND)
        )
    op.execute("DELETE FROM ledger_entries WHERE kind = 'endorsement'")
    with op.batch_alter_table("ledger_entries") as batch:
        batch.create_index(
            "uq_ledger_entries_policy_premium_refund",
            ["policy_id", "kind"],
            unique=True,
            postgresql_where=sa.text("claim_id IS NULL"),
            sqlite_where=sa.text("claim_id IS NULL"),
        )
        batch.drop_constraint(
            batch.f("ck_ledger_entries_endorsement_names_its_endorsement"), type_="check"
        )
        batch.drop_constraint(batch.f("ck_ledger_entries_sign_of_kind"), type_="check")
        batch.create_check_constraint(
            "sign_of_kind",
            "(kind = 'premium' and amount > 0) or (kind in ('refund', 'payout') and amount < 0)",
        )
        batch.drop_constraint(batch.f("ck_ledger_entries_kind"), type_="check")
        batch.create_check_constraint("kind", "kind in ('premium', 'refund', 'payout')")
        batch.drop_constraint(
            batch.f("fk_ledger_entries_endorsement_id_policy_endorsements"), type_="foreignkey"
        )
        batch.drop_column("endorsement_id")
        batch.alter_column("kind", existing_type=sa.String(length=12), type_=sa.String(length=10))
    op.drop_table("policy_endorsements")
    with op.batch_alter_table("policies") as batch:
        batch.drop_constraint(batch.f("ck_policies_version"), type_="check")
        batch.drop_column("version")
