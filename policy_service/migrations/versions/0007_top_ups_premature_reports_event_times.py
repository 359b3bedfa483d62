"""Claims paid in several payouts (top-ups), premature trigger reports, event times.

- claim_payouts: a claim may have several payouts (sequence); each top-up starts exactly
  where a payout of the claim ended (paid_before, a foreign key to paid_after), none
  starts from the same point as another, and none ends above the claim's cap. Existing
  payouts are first payouts.
- ledger_entries: a payout entry names its payout (one entry per payout), not only its
  claim; existing entries get the one payout their claim had.
- claims: the loss's event time and the benefit cap, with checks that nothing above the
  cap is approved and that a claim is decided only on a report observed after its loss;
  `paid` means paid in full.
- trigger_events: status `premature`, the event time, and the key of the same fact.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import policy_service.adapters.tables

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_UTC = policy_service.adapters.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("claim_payouts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sequence", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("paid_before", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("paid_after", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("cap", sa.BigInteger(), nullable=True))
    op.execute("UPDATE claim_payouts SET paid_after = amount")
    with op.batch_alter_table("claim_payouts", schema=None) as batch_op:
        batch_op.alter_column("paid_after", existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_constraint(batch_op.f("uq_claim_payouts_claim_id"), type_="unique")
        for columns in (["claim_id", "paid_after"], ["claim_id", "paid_before"]):
            batch_op.create_unique_constraint(
                batch_op.f(f"uq_claim_payouts_{'_'.join(columns)}"), columns
            )
        batch_op.create_unique_constraint(
            batch_op.f("uq_claim_payouts_claim_id_sequence"), ["claim_id", "sequence"]
        )
        batch_op.create_check_constraint(
            "sequence", "sequence >= 1 and (sequence = 1) = (paid_before is null)"
        )
        batch_op.create_check_constraint(
            "paid_after", "paid_after = coalesce(paid_before, 0) + amount"
        )
        batch_op.create_check_constraint("within_cap", "cap is null or paid_after <= cap")
    # Apart: SQLite's copy of the table checks the key against the unique index just made.
    with op.batch_alter_table("claim_payouts", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_claim_payouts_follows",
            "claim_payouts",
            ["claim_id", "paid_before"],
            ["claim_id", "paid_after"],
        )

    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_time", _UTC, nullable=True))
        batch_op.add_column(sa.Column("benefit_cap", sa.BigInteger(), nullable=True))
        batch_op.drop_constraint(batch_op.f("ck_claims_amounts"), type_="check")
        batch_op.create_check_constraint(
            "amounts",
            "(amount_claimed is null or amount_claimed >= 0)"
            " and (amount_approved is null or amount_approved > 0)"
            " and (amount_paid is null or amount_paid <= amount_approved)"
            " and (status <> 'paid' or amount_paid = amount_approved)",
        )
        batch_op.create_check_constraint(
            "within_benefit",
            "benefit_cap is null or amount_approved is null or amount_approved <= benefit_cap",
        )
        batch_op.create_check_constraint(
            "loss_before_report", "event_time is null or observed_at >= event_time"
        )

    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payout_id", sa.String(length=40), nullable=True))
        batch_op.drop_index(
            batch_op.f("uq_ledger_entries_claim"), sqlite_where=sa.text("claim_id IS NOT NULL")
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_ledger_entries_payout_id_claim_payouts"),
            "claim_payouts",
            ["payout_id"],
            ["id"],
        )
    # Before top-ups a claim had one payout: its entry books that one.
    op.execute(
        "UPDATE ledger_entries SET payout_id = (SELECT p.id FROM claim_payouts p "
        "WHERE p.claim_id = ledger_entries.claim_id) WHERE kind = 'payout'"
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            "uq_ledger_entries_payout",
            ["payout_id"],
            unique=True,
            postgresql_where=sa.text("payout_id IS NOT NULL"),
            sqlite_where=sa.text("payout_id IS NOT NULL"),
        )
        batch_op.create_check_constraint(
            "payout_names_its_payout", "(kind = 'payout') = (payout_id is not null)"
        )

    with op.batch_alter_table("trigger_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_time", _UTC, nullable=True))
        batch_op.add_column(sa.Column("fact_key", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_trigger_events_fact_key_observed_at"),
            ["fact_key", "observed_at"],
            unique=False,
        )
        batch_op.drop_constraint(batch_op.f("ck_trigger_events_status"), type_="check")
        batch_op.create_check_constraint(
            "status", "status in ('processed', 'superseded', 'premature')"
        )


def downgrade() -> None:
    with op.batch_alter_table("trigger_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_trigger_events_status"), type_="check")
        batch_op.create_check_constraint("status", "status in ('processed', 'superseded')")
        batch_op.drop_index(batch_op.f("ix_trigger_events_fact_key_observed_at"))
        batch_op.drop_column("fact_key")
        batch_op.drop_column("event_time")

    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_ledger_entries_payout_names_its_payout"), "check")
        batch_op.drop_constraint(
            batch_op.f("fk_ledger_entries_payout_id_claim_payouts"), type_="foreignkey"
        )
        batch_op.drop_index(
            "uq_ledger_entries_payout",
            postgresql_where=sa.text("payout_id IS NOT NULL"),
            sqlite_where=sa.text("payout_id IS NOT NULL"),
        )
        batch_op.create_index(
            batch_op.f("uq_ledger_entries_claim"),
            ["claim_id"],
            unique=True,
            postgresql_where=sa.text("claim_id IS NOT NULL"),
            sqlite_where=sa.text("claim_id IS NOT NULL"),
        )
        batch_op.drop_column("payout_id")

    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_claims_loss_before_report"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_claims_within_benefit"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_claims_amounts"), type_="check")
        batch_op.create_check_constraint(
            "amounts",
            "(amount_claimed is null or amount_claimed >= 0)"
            " and (amount_approved is null or amount_approved > 0)"
            " and (amount_paid is null or amount_paid = amount_approved)",
        )
        batch_op.drop_column("benefit_cap")
        batch_op.drop_column("event_time")

    with op.batch_alter_table("claim_payouts", schema=None) as batch_op:
        batch_op.drop_constraint("fk_claim_payouts_follows", type_="foreignkey")
        for name in ("within_cap", "paid_after", "sequence"):
            batch_op.drop_constraint(batch_op.f(f"ck_claim_payouts_{name}"), type_="check")
        for columns in ("sequence", "paid_before", "paid_after"):
            batch_op.drop_constraint(
                batch_op.f(f"uq_claim_payouts_claim_id_{columns}"), type_="unique"
            )
        batch_op.create_unique_constraint(batch_op.f("uq_claim_payouts_claim_id"), ["claim_id"])
        batch_op.drop_column("cap")
        batch_op.drop_column("paid_after")
        batch_op.drop_column("paid_before")
        batch_op.drop_column("sequence")
