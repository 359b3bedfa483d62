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
    edition_publications,
    metadata,
    partners,
    policies,
    product_editions,
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

    from policy_service.adapters.db import alembic_config, upgrade

    with _scratch_engine(tmp_path) as eng:
        upgrade(eng)
        cfg = alembic_config(eng.url.render_as_string(hide_password=False))
        with eng.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0003")
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
