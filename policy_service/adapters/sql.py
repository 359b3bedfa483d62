"""Small SQL helpers shared by the repositories."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from policy_service.domain.money import from_minor, to_minor

from .held_inserts import held, insert_now

__all__ = [
    "among",
    "from_minor",
    "insert_ignoring_conflicts",
    "insert_many_returning",
    "insert_rows",
    "keyset_page",
    "to_minor",
]


def among(conn: sa.Connection, column: sa.ColumnElement[Any], values: list[Any]) -> Any:
    """`column IN values`; on PostgreSQL `= ANY` one array parameter: the same text for
    any number of values, which psycopg prepares once instead of parsing a statement
    with thousands of placeholders each time (a settlement reads thousands of rows)."""
    if conn.dialect.name == "postgresql":
        return column == sa.any_(
            sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        )
    return column.in_(values)


def keyset_page(
    conn: sa.Connection,
    stmt: sa.Select[Any],
    id_column: sa.ColumnElement[str],
    limit: int,
    starting_after: str | None,
    *,
    oldest_first: bool = False,
) -> tuple[list[sa.Row[Any]], bool]:
    """One page of `stmt` in id order (newest first: ids grow with time) after the id
    `starting_after`, and whether more follow. A keyset cursor, so a page holds when rows
    are added meanwhile; it reads limit + 1 rows instead of counting."""
    if starting_after:
        stmt = stmt.where(
            id_column > starting_after if oldest_first else id_column < starting_after
        )
    order = id_column.asc() if oldest_first else id_column.desc()
    rows = list(conn.execute(stmt.order_by(order).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def insert_ignoring_conflicts(conn: sa.Connection, table: sa.Table) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for the connection's dialect."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


_INSERT_RETURNING: dict[tuple[str, str, str], Any] = {}


def insert_many_returning(
    conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]], returning: str
) -> set[Any]:
    """Insert rows, skipping those that hit a unique key; returns `returning` of the rows inserted.

    Held for one statement with the rest while inserts are held; on PostgreSQL one
    statement reading every row from a JSON parameter (adapters/held_inserts.py); on
    SQLite one statement object per table, which SQLAlchemy compiles once and sends as
    multi-row VALUES ("insertmanyvalues").
    """
    if not rows:
        return set()
    if held(conn, table, rows, ignore_conflicts=True, counted=True):
        return {row[returning] for row in rows}  # flush() checks that all went in
    if conn.dialect.name == "postgresql":
        return set(insert_now(conn, table, rows, ignore_conflicts=True, returning=returning))
    key = (conn.dialect.name, table.name, returning)
    stmt = _INSERT_RETURNING.get(key)
    if stmt is None:
        stmt = insert_ignoring_conflicts(conn, table).returning(table.c[returning])
        _INSERT_RETURNING[key] = stmt
    return {row[0] for row in conn.execute(stmt, rows)}


def insert_rows(
    conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]], *, ignore_conflicts: bool
) -> None:
    """Insert rows (skipping those that hit a unique key if `ignore_conflicts`), or hold
    them for one statement with the rest (adapters/held_inserts.py)."""
    if not rows or held(conn, table, rows, ignore_conflicts=ignore_conflicts, counted=False):
        return
    if conn.dialect.name == "postgresql":
        insert_now(conn, table, rows, ignore_conflicts=ignore_conflicts)
        return
    stmt = insert_ignoring_conflicts(conn, table) if ignore_conflicts else table.insert()
    conn.execute(stmt, rows)


def counted_stream(
    conn: sa.Connection, stmt: sa.Select[Any], order: sa.ColumnElement[Any]
) -> tuple[int, Iterator[sa.Row[Any]]]:
    """A statement's row count and its rows, fetched a thousand at a time (a report on a
    large book shows its progress and never holds the driver's whole answer at once)."""
    count = conn.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()
    return count, iter(conn.execution_options(yield_per=1000).execute(stmt.order_by(order)))
