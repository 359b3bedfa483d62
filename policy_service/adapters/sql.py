"""Small SQL helpers shared by the repositories."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from policy_service.domain.money import MINOR_UNITS


def insert_ignoring_conflicts(conn: sa.Connection, table: sa.Table) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for the connection's dialect."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


_INSERT_RETURNING: dict[tuple[str, str, str], Any] = {}


def insert_many_returning(
    conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]], returning: str
) -> set[Any]:
    """Insert rows, skipping those that hit a unique key; returns `returning` of the rows inserted.

    One statement object per table and dialect, executed with a list of parameter sets:
    SQLAlchemy compiles it once and sends the rows as multi-row VALUES ("insertmanyvalues"),
    instead of compiling a new statement for every request.
    """
    if not rows:
        return set()
    key = (conn.dialect.name, table.name, returning)
    stmt = _INSERT_RETURNING.get(key)
    if stmt is None:
        stmt = insert_ignoring_conflicts(conn, table).returning(table.c[returning])
        _INSERT_RETURNING[key] = stmt
    return {row[0] for row in conn.execute(stmt, rows)}


def to_minor(amount: Decimal, currency: str) -> int:
    scaled = amount.scaleb(MINOR_UNITS[currency])
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} has more decimals than the currency allows")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    exp = MINOR_UNITS[currency]
    return (Decimal(minor).scaleb(-exp)).quantize(Decimal(1).scaleb(-exp))
