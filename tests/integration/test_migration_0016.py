"""Migration 0016 puts the partner into every key of a partner's rows (docs/scaling.md):
rows written before it keep their links (cover locks and trigger subjects take their
policy's partner), the database then refuses a row of one partner that points at
another's, and the migration goes down and up again."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from policy_service.adapters.db import migrate, upgrade
from policy_service.adapters.tables import (
    claim_payouts,
    claims,
    cover_locks,
    ledger_entries,
    partners,
    payments,
    policies,
    policy_endorsements,
    policy_subjects,
    refunds,
)
from tests.integration.test_migrations import (
    _a_policy,
    _claim_row,
    _payment_row,
    _payout_row,
    _policy_row,
    _refund_row,
    _scratch_engine,
)

NOW = datetime(2026, 11, 25, tzinfo=UTC)
WRITTEN = (claims, claim_payouts, payments, refunds, ledger_entries, cover_locks, policy_subjects)


def _entry(**changes: object) -> dict[str, object]:
    return {"partner_id": "ptn_x", "livemode": False, "policy_id": "pol_ok", "kind": "payout",
            "claim_id": "clm_x", "payout_id": "cpo_1", "collected_by": "partner",
            "currency": "CNY", "amount": -10000, "tax": 0, "commission": 0, "fees": 0,
            "net": -10000, "occurred_at": NOW, "period": "2026-11", **changes}  # fmt: skip


def _book_of_one_policy(conn: sa.Connection, locks_name_the_partner: bool = True) -> None:
    """A policy of ptn_x with a paid claim, its payout and ledger entry, a charge and its
    refund, its cover lock and trigger subject; and a second partner, ptn_y."""
    _a_policy(conn)
    conn.execute(partners.insert().values(id="ptn_y", name="y", created_at=NOW))
    conn.execute(claims.insert().values(**_claim_row()))
    conn.execute(claim_payouts.insert().values(**_payout_row()))
    conn.execute(ledger_entries.insert().values(**_entry()))
    conn.execute(payments.insert().values(**_payment_row()))
    conn.execute(refunds.insert().values(**_refund_row()))
    partner = {"partner_id": "ptn_x"} if locks_name_the_partner else {}
    lock = {"livemode": False, "product_code": "p", "cover_key": "k", "policy_id": "pol_ok"}
    conn.execute(cover_locks.insert().values(created_at=NOW, **lock, **partner))
    conn.execute(policy_subjects.insert().values(subject_key="s", policy_id="pol_ok", **partner))


def _counts(eng: sa.Engine) -> dict[str, int]:
    with eng.connect() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in WRITTEN
        }


def test_rows_keep_their_links_and_the_migration_goes_down_and_up(tmp_path: Path) -> None:
    with _scratch_engine(tmp_path) as eng:
        upgrade(eng, "0015")
        with eng.begin() as conn:
            # as before 0016: the two risk-keyed tables without partner_id
            _book_of_one_policy(conn, locks_name_the_partner=False)
        before = _counts(eng)
        upgrade(eng)
        assert _counts(eng) == before
        with eng.connect() as conn:
            for table in (cover_locks, policy_subjects):
                assert conn.execute(sa.select(table.c.partner_id)).scalars().all() == ["ptn_x"]
        migrate(eng, lambda cfg: command.downgrade(cfg, "0015"))
        with eng.connect() as conn:
            key = sa.inspect(conn).get_pk_constraint("policies")["constrained_columns"]
        assert key == ["id"] and _counts(eng) == before
        upgrade(eng)
        assert _counts(eng) == before


@pytest.mark.parametrize(
    ("table", "row"),
    [
        (claims, _claim_row(id="clm_y", partner_id="ptn_y", loss_key="other")),
        (payments, _payment_row(id="pay_y", partner_id="ptn_y", purpose="endorsement",
                                endorsement_request="{}")),
        (refunds, _refund_row(id="rfd_y", partner_id="ptn_y", kind="returned")),
        (ledger_entries, _entry(partner_id="ptn_y", kind="refund", amount=-1, net=-1,
                                claim_id=None, payout_id=None)),
        (claim_payouts, _payout_row(id="cpo_y", partner_id="ptn_y", sequence=2,
                                    paid_before=10000, paid_after=20000, amount=10000)),
        (cover_locks, {"livemode": False, "product_code": "p", "cover_key": "k2",
                       "policy_id": "pol_ok", "partner_id": "ptn_y", "created_at": NOW}),
        (policy_subjects, {"subject_key": "s2", "policy_id": "pol_ok", "partner_id": "ptn_y"}),
    ],
    ids=lambda v: v.name if isinstance(v, sa.Table) else "",
)  # fmt: skip
def test_a_row_of_one_partner_cannot_point_at_anothers(
    engine: sa.Engine, table: sa.Table, row: dict[str, object]
) -> None:
    with engine.begin() as conn:
        _book_of_one_policy(conn)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(table.insert().values(**row))
    # the same row of the policy's own partner is taken
    with engine.begin() as conn:
        conn.execute(table.insert().values(**{**row, "partner_id": "ptn_x"}))


def test_a_refund_cannot_name_another_partners_endorsement(engine: sa.Engine) -> None:
    """A key other than the policy's holds too: ptn_y's refund, on ptn_y's own policy,
    naming ptn_x's endorsement."""
    with engine.begin() as conn:
        _book_of_one_policy(conn)
        conn.execute(
            policies.insert().values(
                **_policy_row(id="pol_y", partner_id="ptn_y", external_ref="y")
            )
        )
        conn.execute(
            payments.insert().values(
                **_payment_row(id="pay_y", partner_id="ptn_y", policy_id="pol_y")
            )
        )
        sides = {f"{side}_{part}": 100 if part in ("total", "net") else 0
                 for side in ("before", "after")
                 for part in ("total", "net", "tax", "commission", "fees")}  # fmt: skip
        conn.execute(
            policy_endorsements.insert().values(
                id="end_1", partner_id="ptn_x", livemode=False, policy_id="pol_ok", version=2,
                risk_before={}, risk_after={}, currency="CNY", coverage_start_before=NOW,
                coverage_end_before=NOW, coverage_start_after=NOW, coverage_end_after=NOW,
                created_at=NOW, **sides,
            )
        )  # fmt: skip
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(
            refunds.insert().values(
                **_refund_row(id="rfd_e", partner_id="ptn_y", policy_id="pol_y",
                              kind="endorsement", endorsement_id="end_1", payment_id="pay_y")
            )
        )  # fmt: skip
    with engine.begin() as conn:  # ptn_x's own refund of it is taken
        conn.execute(
            refunds.insert().values(
                **_refund_row(id="rfd_e", kind="endorsement", endorsement_id="end_1")
            )
        )  # fmt: skip
