"""Endorsements of stripe-billed policies: the premium difference charged or refunded
through the payment API.

- payments.purpose: `premium` (one per policy, as before) or `endorsement` (the difference
  an endorsement adds, charged before the change is made; the request it pays for is kept
  with it, and the endorsement once applied);
- refunds.kind: `premium` (one per policy, as before), `endorsement` (one per endorsement
  that lowers the premium) or `returned` (an endorsement charge given back because the
  change could no longer be made; one per payment);
- refunds.allocation: the charges a refund is sent back on, each within what it took (a
  policy endorsed to a dearer premium was charged twice).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import policy_service.adapters.tables

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_OPTIONAL_JSON = policy_service.adapters.tables.OptionalJSONDoc


def _partial_unique(batch: object, name: str, column: str, where: str) -> None:
    batch.create_index(  # type: ignore[attr-defined]
        name,
        [column],
        unique=True,
        postgresql_where=sa.text(where),
        sqlite_where=sa.text(where),
    )


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(
            sa.Column("purpose", sa.String(length=12), server_default="premium", nullable=False)
        )
        batch.add_column(sa.Column("endorsement_request", sa.Text(), nullable=True))
        batch.add_column(sa.Column("endorsement_id", sa.String(length=40), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_payments_endorsement_id_policy_endorsements"),
            "policy_endorsements",
            ["endorsement_id"],
            ["id"],
        )
        batch.drop_constraint(batch.f("uq_payments_policy_id"), type_="unique")
        batch.create_check_constraint("purpose", "purpose in ('premium', 'endorsement')")
        batch.create_check_constraint(
            "endorsement_names_its_request",
            "(purpose = 'endorsement') = (endorsement_request is not null)",
        )
    with op.batch_alter_table("payments") as batch:
        _partial_unique(batch, "uq_payments_premium", "policy_id", "purpose = 'premium'")
    with op.batch_alter_table("refunds") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=12), server_default="premium", nullable=False)
        )
        batch.add_column(sa.Column("endorsement_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("allocation", _OPTIONAL_JSON, nullable=True))
        batch.create_foreign_key(
            batch.f("fk_refunds_endorsement_id_policy_endorsements"),
            "policy_endorsements",
            ["endorsement_id"],
            ["id"],
        )
        batch.drop_constraint(batch.f("uq_refunds_policy_id"), type_="unique")
        batch.create_check_constraint("kind", "kind in ('premium', 'endorsement', 'returned')")
        batch.create_check_constraint(
            "endorsement_names_its_endorsement",
            "(kind = 'endorsement') = (endorsement_id is not null)",
        )
        batch.create_check_constraint(
            "names_its_payment", "kind = 'premium' or payment_id is not null"
        )
    with op.batch_alter_table("refunds") as batch:
        _partial_unique(batch, "uq_refunds_premium", "policy_id", "kind = 'premium'")
        _partial_unique(
            batch, "uq_refunds_endorsement", "endorsement_id", "endorsement_id IS NOT NULL"
        )
        _partial_unique(batch, "uq_refunds_returned", "payment_id", "kind = 'returned'")


def downgrade() -> None:
    used = op.get_bind().execute(
        sa.text(
            "select (select count(*) from payments where purpose <> 'premium')"
            " + (select count(*) from refunds where kind <> 'premium')"
        )
    )
    if used.scalar_one():
        raise RuntimeError(
            "endorsement charges or refunds are recorded: 0013 cannot hold them "
            "(one payment and one refund per policy); downgrade refused"
        )
    with op.batch_alter_table("refunds") as batch:
        for name in ("uq_refunds_returned", "uq_refunds_endorsement", "uq_refunds_premium"):
            batch.drop_index(name)
    with op.batch_alter_table("refunds") as batch:
        for name in ("names_its_payment", "endorsement_names_its_endorsement", "kind"):
            batch.drop_constraint(batch.f(f"ck_refunds_{name}"), type_="check")
        batch.drop_constraint(
            batch.f("fk_refunds_endorsement_id_policy_endorsements"), type_="foreignkey"
        )
        batch.drop_column("allocation")
        batch.drop_column("endorsement_id")
        batch.drop_column("kind")
        batch.create_unique_constraint(batch.f("uq_refunds_policy_id"), ["policy_id"])
    with op.batch_alter_table("payments") as batch:
        batch.drop_index("uq_payments_premium")
    with op.batch_alter_table("payments") as batch:
        for name in ("endorsement_names_its_request", "purpose"):
            batch.drop_constraint(batch.f(f"ck_payments_{name}"), type_="check")
        batch.drop_constraint(
            batch.f("fk_payments_endorsement_id_policy_endorsements"), type_="foreignkey"
        )
        batch.drop_column("endorsement_id")
        batch.drop_column("endorsement_request")
        batch.drop_column("purpose")
        batch.create_unique_constraint(batch.f("uq_payments_policy_id"), ["policy_id"])
