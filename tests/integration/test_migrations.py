"""The Alembic migrations build exactly the schema the code declares."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from policy_service.adapters.tables import (
    claim_payouts,
    claims,
    edition_publications,
    events,
    idempotency_keys,
    ledger_entries,
    metadata,
    partners,
    payments,
    policies,
    product_editions,
    refunds,
)


def test_migrations_match_the_tables(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    assert diff == [], (
        "tables.py and migrations/ differ: add a migration (alembic revision --autogenerate)"
    )


def _policy_row(**changes: object) -> dict[str, object]:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    row: dict[str, object] = {
        "id": "pol_x", "partner_id": "ptn_x", "livemode": False, "product_code": "p",
        "edition_id": "p/1", "content_hash": "sha256:x", "external_ref": "r", "status": "active",
        "risk": {}, "worksheet": {}, "currency": "CNY", "premium_total": 100, "premium_net": 70,
        "premium_tax": 10, "premium_commission": 15, "premium_fees": 5, "coverage_start": now,
        "coverage_end": now, "created_at": now, "updated_at": now,
    }  # fmt: skip
    row.update(changes)
    return row


@pytest.mark.parametrize(
    "changes",
    [
        {"premium_net": 71},  # parts do not sum to the total
        {"premium_fees": -5, "premium_net": 80},  # negative part
        {"edition_id": "p/none"},  # no such edition
        {"status": "sleeping"},
        {"refund_amount": 101},  # refund above the premium
    ],
)
def test_the_database_refuses_what_must_never_happen(engine: sa.Engine, changes: dict) -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(partners.insert().values(id="ptn_x", name="x", created_at=now))
        conn.execute(
            product_editions.insert().values(
                id="p/1",
                product_code="p",
                edition="1",
                content_hash="h",
                effective_from=now,
                files={},
                registered_at=now,
            )
        )
        conn.execute(policies.insert().values(**_policy_row(id="pol_ok", external_ref="ok")))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(policies.insert().values(**_policy_row(**changes)))


@contextmanager
def _scratch_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    """An empty database of the kind the tests run on, dropped afterwards."""
    from policy_service.adapters.db import create_db_engine
    from tests.conftest import database_url

    url = database_url()
    if url is None:
        eng = create_db_engine(f"sqlite:///{tmp_path}/scratch.db")
        try:
            yield eng
        finally:
            eng.dispose()
        return
    admin = sa.create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    name = f"scratch_{abs(hash(str(tmp_path))) % 10**8}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    eng = create_db_engine(admin.url.set(database=name).render_as_string(hide_password=False))
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        admin.dispose()


def test_the_claims_migration_goes_down_and_up_again(tmp_path: Path) -> None:
    from alembic import command

    from policy_service.adapters.db import migrate, upgrade

    with _scratch_engine(tmp_path) as eng:
        upgrade(eng)
        migrate(eng, lambda cfg: command.downgrade(cfg, "0003"))
        with eng.connect() as conn:
            assert "claims" not in sa.inspect(conn).get_table_names()
        upgrade(eng)
        with eng.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), metadata
            )
        assert diff == []


def test_editions_on_sale_before_publishing_was_recorded_stay_on_sale(tmp_path: Path) -> None:
    from policy_service.adapters.db import upgrade

    registered = datetime(2026, 11, 20, tzinfo=UTC)
    with _scratch_engine(tmp_path) as eng:
        upgrade(eng, "0005")
        with eng.begin() as conn:
            conn.execute(
                product_editions.insert().values(
                    id="p/1",
                    product_code="p",
                    edition="1",
                    content_hash="sha256:one",
                    effective_from=registered,
                    files={},
                    registered_at=registered,
                )
            )
        upgrade(eng)
        with eng.connect() as conn:
            rows = conn.execute(sa.select(edition_publications)).mappings().all()
        assert [
            (r["edition_id"], r["action"], r["content_hash"], r["actor"], r["recorded_at"])
            for r in rows
        ] == [("p/1", "publish", "sha256:one", "migration 0006", registered)]
        # the record is append-only
        for change in (
            edition_publications.update().values(actor="someone else"),
            edition_publications.delete(),
        ):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), eng.begin() as conn:
                conn.execute(change)


def _claim_row(**changes: object) -> dict[str, object]:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    row: dict[str, object] = {
        "id": "clm_x", "partner_id": "ptn_x", "livemode": False, "policy_id": "pol_ok",
        "product_code": "p", "edition_id": "p/1", "content_hash": "h", "loss_key": "flight.status",
        "origin": "trigger", "type": "delay_120", "status": "paid", "currency": "CNY",
        "amount_claimed": 10000, "amount_approved": 10000, "amount_paid": 10000,
        "benefit_cap": 30000, "evidence": {}, "corrections": [], "signals": [],
        "observed_at": now, "event_time": now, "created_at": now, "updated_at": now,
    }  # fmt: skip
    row.update(changes)
    return row


def _payout_row(**changes: object) -> dict[str, object]:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    row: dict[str, object] = {
        "id": "cpo_1", "claim_id": "clm_x", "sequence": 1, "paid_before": None,
        "paid_after": 10000, "cap": 30000, "partner_id": "ptn_x", "livemode": False,
        "policy_id": "pol_ok", "amount": 10000, "currency": "CNY", "method": "statement",
        "status": "succeeded", "created_at": now, "updated_at": now,
    }  # fmt: skip
    row.update(changes)
    return row


def _a_policy(conn: sa.Connection) -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    conn.execute(partners.insert().values(id="ptn_x", name="x", created_at=now))
    conn.execute(
        product_editions.insert().values(
            id="p/1", product_code="p", edition="1", content_hash="h",
            effective_from=now, files={}, registered_at=now,
        )
    )  # fmt: skip
    conn.execute(policies.insert().values(**_policy_row(id="pol_ok", external_ref="ok")))


def _top_up(**changes: object) -> dict[str, object]:
    return {"id": "cpo_2", "sequence": 2, "paid_before": 10000, "paid_after": 30000,
            "amount": 20000, **changes}  # fmt: skip


@pytest.mark.parametrize(
    ("table", "row"),
    [
        # the same money twice: a second first payout; a top-up that starts inside what
        # was paid, from nothing, or whose end does not follow from its amount
        ("payout", {"id": "cpo_2"}),
        ("payout", _top_up(paid_before=5000, paid_after=25000)),
        ("payout", _top_up(paid_before=0, paid_after=20000)),
        ("payout", _top_up(paid_after=25000)),
        ("payout", _top_up(sequence=1)),
        # a top-up past the claim's cap
        ("payout", _top_up(amount=20001, paid_after=30001)),
        # a claim approved above its benefit, decided on a report older than its loss,
        # or paid in part while it says paid
        ("claim", {"amount_approved": 30001, "amount_paid": None, "status": "approved"}),
        ("claim", {"event_time": datetime(2026, 11, 26, tzinfo=UTC)}),
        ("claim", {"amount_paid": 5000}),
    ],
)  # fmt: skip
def test_the_database_refuses_to_pay_what_must_never_be_paid(
    engine: sa.Engine, table: str, row: dict[str, object]
) -> None:
    with engine.begin() as conn:
        _a_policy(conn)
        conn.execute(claims.insert().values(**_claim_row()))
        conn.execute(claim_payouts.insert().values(**_payout_row()))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        if table == "payout":
            conn.execute(claim_payouts.insert().values(**_payout_row(**row)))
        else:
            conn.execute(claims.insert().values(**_claim_row(id="clm_y", loss_key="b", **row)))
    # the top-up that starts where the first payout ended, within the cap, is taken
    with engine.begin() as conn:
        conn.execute(claim_payouts.insert().values(**_payout_row(**_top_up())))


def _payment_row(**changes: object) -> dict[str, object]:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    return {"id": "pay_1", "partner_id": "ptn_x", "livemode": False, "policy_id": "pol_ok",
            "amount": 100, "currency": "CNY", "payment_method": "pm_x", "status": "succeeded",
            "created_at": now, "updated_at": now, **changes}  # fmt: skip


def _refund_row(**changes: object) -> dict[str, object]:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    return {"id": "rfd_1", "partner_id": "ptn_x", "livemode": False, "policy_id": "pol_ok",
            "payment_id": "pay_1", "amount": 100, "currency": "CNY", "status": "pending",
            "created_at": now, "updated_at": now, **changes}  # fmt: skip


@pytest.mark.parametrize(
    ("table", "row"),
    [
        ("payments", {"id": "pay_2"}),  # a second premium payment of the policy
        ("payments", {"id": "pay_2", "purpose": "endorsement"}),  # pays for no request
        ("payments", {"id": "pay_2", "endorsement_request": "{}"}),  # a premium with one
        ("payments", {"id": "pay_2", "purpose": "gift", "endorsement_request": "{}"}),
        ("refunds", {"id": "rfd_2"}),  # a second refund of the premium
        ("refunds", {"id": "rfd_2", "kind": "endorsement"}),  # of no endorsement
        ("refunds", {"id": "rfd_2", "kind": "returned"}),  # a second return of a charge
        ("refunds", {"id": "rfd_2", "kind": "returned", "payment_id": None}),
    ],
)
def test_the_database_refuses_to_charge_or_refund_twice(
    engine: sa.Engine, table: str, row: dict[str, object]
) -> None:
    request = {"purpose": "endorsement", "endorsement_request": "{}"}
    with engine.begin() as conn:
        _a_policy(conn)
        conn.execute(payments.insert().values(**_payment_row()))
        conn.execute(payments.insert().values(**_payment_row(id="pay_e", **request)))
        conn.execute(refunds.insert().values(**_refund_row()))
        conn.execute(refunds.insert().values(**_refund_row(id="rfd_r", kind="returned")))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        if table == "payments":
            conn.execute(payments.insert().values(**_payment_row(**row)))
        else:
            conn.execute(refunds.insert().values(**_refund_row(**row)))
    # an endorsement's own charge, and its return, are taken
    with engine.begin() as conn:
        conn.execute(payments.insert().values(**_payment_row(id="pay_f", **request)))
        conn.execute(
            refunds.insert().values(**_refund_row(id="rfd_f", kind="returned", payment_id="pay_f"))
        )


def test_payouts_booked_before_top_ups_keep_their_ledger_entry(tmp_path: Path) -> None:
    from policy_service.adapters.db import upgrade

    now = datetime(2026, 11, 25, tzinfo=UTC)
    with _scratch_engine(tmp_path) as eng:
        upgrade(eng, "0006")
        with eng.begin() as conn:
            _a_policy(conn)
            new_columns = (
                "event_time",
                "benefit_cap",
                "sequence",
                "paid_before",
                "paid_after",
                "cap",
            )
            claim = {k: v for k, v in _claim_row().items() if k not in new_columns}
            conn.execute(claims.insert().values(**claim))
            payout = {k: v for k, v in _payout_row().items() if k not in new_columns}
            conn.execute(claim_payouts.insert().values(**payout))
            entry = {
                "partner_id": "ptn_x", "livemode": False, "policy_id": "pol_ok", "kind": "payout",
                "claim_id": "clm_x", "collected_by": "partner", "currency": "CNY",
                "amount": -10000, "tax": 0, "commission": 0, "fees": 0, "net": -10000,
                "occurred_at": now, "period": "2026-11",
            }  # fmt: skip
            conn.execute(ledger_entries.insert().values(**entry))
        upgrade(eng)
        with eng.connect() as conn:
            (booked,) = conn.execute(sa.select(ledger_entries.c.payout_id)).all()
            (first,) = conn.execute(
                sa.select(
                    claim_payouts.c.sequence,
                    claim_payouts.c.paid_before,
                    claim_payouts.c.paid_after,
                )
            ).all()
        assert booked == ("cpo_1",) and tuple(first) == (1, None, 10000)


def test_rows_from_before_0008_keep_their_copies_and_a_downgrade_keeps_what_it_cannot_read(
    tmp_path: Path,
) -> None:
    from alembic import command

    from policy_service.adapters.db import migrate, upgrade

    now = datetime(2026, 11, 25, tzinfo=UTC)
    event = {
        "id": "evt_old", "partner_id": "ptn_x", "livemode": False, "type": "policy.issued",
        "object_type": "policy", "object_id": "pol_ok", "data": {"id": "pol_ok"},
        "created_at": now,
    }  # fmt: skip
    key = {
        "partner_id": "ptn_x", "livemode": False, "key": "k-old", "fingerprint": "f",
        "status_code": 201, "response_body": '{"id":"pol_ok"}', "created_at": now,
    }  # fmt: skip
    with _scratch_engine(tmp_path) as eng:
        upgrade(eng, "0007")
        with eng.begin() as conn:
            _a_policy(conn)
            conn.execute(events.insert().values(**event))
            conn.execute(idempotency_keys.insert().values(**key))
        upgrade(eng)
        with eng.connect() as conn:
            assert conn.execute(sa.select(policies.c.worksheet, policies.c.priced_at)).one() == (
                {},
                None,
            )
            assert conn.execute(sa.select(events.c.data)).scalar_one() == {"id": "pol_ok"}
            stored = conn.execute(
                sa.select(idempotency_keys.c.response_body, idempotency_keys.c.policy_id)
            ).one()
            assert tuple(stored) == ('{"id":"pol_ok"}', None)
        # nothing relies on 0008 yet: down and up again
        migrate(eng, lambda cfg: command.downgrade(cfg, "0007"))
        upgrade(eng)
        # an event that only names its policy: the old code could not show it
        with eng.begin() as conn:
            conn.execute(events.insert().values(**{**event, "id": "evt_new", "data": None}))
        with pytest.raises(RuntimeError, match="events has rows without data"):
            migrate(eng, lambda cfg: command.downgrade(cfg, "0007"))
        with eng.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one() == 2
        # an answer that must be one or the other
        with pytest.raises(sa.exc.IntegrityError), eng.begin() as conn:
            conn.execute(
                idempotency_keys.insert().values(**{**key, "key": "k-2", "response_body": None})
            )
