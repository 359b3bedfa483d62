"""The PostgreSQL schema the migrations make keeps the distribution rules a distributed
PostgreSQL needs (docs/scaling.md), as the tables' metadata does: read back from the
database, every unique key of a partner's table includes partner_id, the tables the
database numbers too (0017), but for the gaps listed in tests/unit/test_distribution_rules.py.
SQLite is one file on one machine: its numbered tables keep the rowid as their key."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.conftest import requires_postgres
from tests.unit.test_distribution_rules import GAPS, broken_rules


@requires_postgres
def test_the_migrated_postgresql_schema_keeps_the_rules(engine: sa.Engine) -> None:
    live = sa.MetaData()
    live.reflect(engine)
    live.remove(live.tables["alembic_version"])
    assert broken_rules(live) == GAPS
    for table in ("ledger_entries", "claim_audit", "webhook_attempts"):
        key = sa.inspect(engine).get_pk_constraint(table)["constrained_columns"]
        assert key == ["id", "partner_id"], table


def test_on_sqlite_the_numbered_tables_keep_the_rowid_as_their_key(engine: sa.Engine) -> None:
    """The one place the metadata and the schema differ, on purpose (migration 0017)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's own keys")
    for table in ("ledger_entries", "claim_audit", "webhook_attempts"):
        assert sa.inspect(engine).get_pk_constraint(table)["constrained_columns"] == ["id"]
