"""Claims paid in several payouts (top-ups), premature trigger reports, event times.

- claim_payouts: a claim may have several payouts, each starting where the one before
  ended (sequence, paid_before) and within the claim's cap; one per (claim, sequence)
  and per (claim, paid_before), so no two payouts cover the same money.
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
        batch_op.add_column(
            sa.Column("paid_before", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("cap", sa.BigInteger(), nullable=True))
        batch_op.drop_constraint(batch_op.f("uq_claim_payouts_claim_id"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_claim_payouts_claim_id_paid_before"), ["claim_id", "paid_before"]
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_claim_payouts_claim_id_sequence"), ["claim_id", "sequence"]
        )
        batch_op.create_check_constraint(
            "sequence", "sequence >= 1 and (sequence = 1) = (paid_before = 0) and paid_before >= 0"
        )
        batch_op.create_check_constraint("within_cap", "cap is null or paid_before + amount <= cap")

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
        batch_op.drop_constraint(batch_op.f("ck_claim_payouts_within_cap"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_claim_payouts_sequence"), type_="check")
        batch_op.drop_constraint(batch_op.f("uq_claim_payouts_claim_id_sequence"), type_="unique")
        batch_op.drop_constraint(
            batch_op.f("uq_claim_payouts_claim_id_paid_before"), type_="unique"
        )
        batch_op.create_unique_constraint(batch_op.f("uq_claim_payouts_claim_id"), ["claim_id"])
        batch_op.drop_column("cap")
        batch_op.drop_column("paid_before")
        batch_op.drop_column("sequence")
