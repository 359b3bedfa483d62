"""Inserts held back and then written in one round trip (PostgreSQL), or one driver call
per table (SQLite).

Issuing a policy inserts into six tables; six statements cost six round trips and six
passes through SQLAlchemy and psycopg, more than the rest of the request. While inserts
are held, the repositories' insert helpers (adapters/sql.py) record their rows instead of
executing them, and flush() sends them all as one statement: one data-modifying CTE per
insert, each reading its rows from one JSON parameter (`INSERT ... SELECT ... FROM
jsonb_to_recordset(...)`), so the statement's text depends only on which tables and
columns are written, not on how many rows: psycopg converts and prepares it once, and a
JSON document is cheaper to send than one array parameter per column.

An insert that must insert every row (one whose caller reads back what was inserted: an
Idempotency-Key claim, a policy, a cover lock) is counted; flush() says whether every
such row went in. If not, the caller rolls the transaction back and takes the general
path, which handles each conflict (replay, duplicate, duplicate cover) one by one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

#: conn.info key under which the held inserts live while holding is on
_KEY = "policy_service.held_inserts"


@dataclass
class _Held:
    table: sa.Table
    rows: list[dict[str, Any]]
    ignore_conflicts: bool
    #: every row must go in (the caller assumed they all did)
    counted: bool
    #: the column to return of each row inserted (insert_now only)
    returning: str | None = None


def hold(conn: sa.Connection) -> None:
    conn.info[_KEY] = []


def release(conn: sa.Connection) -> None:
    """Stop holding and forget what was held (after a flush, or on the way out of an error:
    the connection goes back to the pool and must not carry rows into the next checkout)."""
    conn.info.pop(_KEY, None)


def held(
    conn: sa.Connection,
    table: sa.Table,
    rows: list[dict[str, Any]],
    *,
    ignore_conflicts: bool,
    counted: bool,
) -> bool:
    """Hold these rows if holding is on; False means the caller should execute them now."""
    pending: list[_Held] | None = conn.info.get(_KEY)
    if pending is None:
        return False
    pending.append(_Held(table, rows, ignore_conflicts, counted))
    return True


_SQL: dict[tuple[Any, ...], str] = {}

#: the record types jsonb_to_recordset reads each column as (an insert casts on assignment,
#: so a varchar's length is still checked)
_RECORD_TYPES = {
    "VARCHAR": "text",
    "TEXT": "text",
    "BOOLEAN": "boolean",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "JSONB": "jsonb",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "DATE": "date",
}


def _record_type(conn: sa.Connection, column: sa.Column[Any]) -> str:
    compiled = column.type.compile(dialect=conn.dialect)
    return _RECORD_TYPES.get(compiled.split("(", 1)[0], compiled)


def _sql(conn: sa.Connection, pending: list[_Held]) -> str:
    shape = tuple((h.table.name, tuple(h.rows[0]), h.ignore_conflicts, h.counted) for h in pending)
    sql = _SQL.get(shape)
    if sql is not None:
        return sql
    parts, counts = [], []
    for i, h in enumerate(pending):
        cols = list(h.rows[0])
        record = ", ".join(f"{c} {_record_type(conn, h.table.c[c])}" for c in cols)
        names = ", ".join(cols)
        stmt = (
            f"INSERT INTO {h.table.name} ({names}) SELECT {names} "
            f"FROM jsonb_to_recordset(%s::jsonb) AS r({record})"
        )
        if h.ignore_conflicts:
            stmt += " ON CONFLICT DO NOTHING"
        if h.returning:
            stmt += f" RETURNING {h.returning}"
            parts.append(stmt)
            break  # insert_now: one insert, its rows returned
        if h.counted:
            stmt += " RETURNING 1"
            counts.append(f"(SELECT count(*) FROM w{i})")
        parts.append(f"w{i} AS ({stmt})")
    if pending[0].returning:
        sql = parts[0]
    else:
        sql = f"WITH {', '.join(parts)} SELECT {', '.join(counts) or '1'}"
    _SQL[shape] = sql
    return sql


def _rows_json(conn: sa.Connection, h: _Held) -> str:
    """The rows as one JSON array, each value as its column's bind processing makes it
    (UTC datetimes, checked) except JSON documents, which go in as they are."""
    processors = {}
    for col in h.rows[0]:
        column = h.table.c[col]
        if not isinstance(column.type, sa.JSON):
            process = column.type._cached_bind_processor(conn.dialect)
            if process is not None:
                processors[col] = process
    if processors:
        rows = [
            {k: (processors[k](v) if k in processors else v) for k, v in row.items()}
            for row in h.rows
        ]
    else:
        rows = h.rows
    # int keys become strings, as json.dumps (SQLAlchemy's serializer) makes them
    return orjson.dumps(rows, option=orjson.OPT_NON_STR_KEYS).decode()


_SQLITE_SQL: dict[tuple[Any, ...], tuple[str, list[Any]]] = {}


def _flush_sqlite(conn: sa.Connection, pending: list[_Held]) -> bool:
    """SQLite has no data-modifying CTEs, and no round trips to save: one prepared
    statement per table, its rows bound by the driver (executemany), without building
    and compiling a SQLAlchemy statement for each. The row count says what went in."""
    for h in pending:
        cols = list(h.rows[0])
        shape = (h.table.name, tuple(cols), h.ignore_conflicts)
        known = _SQLITE_SQL.get(shape)
        if known is None:
            names = ", ".join(f'"{c}"' for c in cols)
            marks = ", ".join("?" for _ in cols)
            sql = f'INSERT INTO "{h.table.name}" ({names}) VALUES ({marks})'
            if h.ignore_conflicts:
                sql += " ON CONFLICT DO NOTHING"
            procs = [h.table.c[c].type._cached_bind_processor(conn.dialect) for c in cols]
            known = _SQLITE_SQL[shape] = (sql, procs)
        sql, procs = known
        params = [
            tuple(p(row[c]) if p else row[c] for c, p in zip(cols, procs, strict=True))
            for row in h.rows
        ]
        result = conn.exec_driver_sql(sql, params)
        if h.counted and result.rowcount != len(h.rows):
            return False
    return True


def flush(conn: sa.Connection) -> bool:
    """Write everything held in one statement and stop holding; True if every counted row
    was inserted (else the transaction holds a partial write and must be rolled back)."""
    pending: list[_Held] = conn.info.pop(_KEY, None) or []
    pending = [h for h in pending if h.rows]
    if not pending:
        return True
    try:
        if conn.dialect.name == "sqlite":
            return _flush_sqlite(conn, pending)
        params = tuple(_rows_json(conn, h) for h in pending)
        row = conn.exec_driver_sql(_sql(conn, pending), params).one()
    except sa.exc.IntegrityError:
        # A row whose parent was skipped (a policy that conflicted, its cover lock): the
        # same verdict as a short count, and the transaction is rolled back all the same.
        # Without counted rows nothing was assumed: the error is real.
        if any(h.counted for h in pending):
            return False
        raise
    expected = [len(h.rows) for h in pending if h.counted]
    return not expected or list(row) == expected


def insert_now(
    conn: sa.Connection,
    table: sa.Table,
    rows: list[dict[str, Any]],
    *,
    ignore_conflicts: bool,
    returning: str | None = None,
) -> list[Any]:
    """Insert rows now, in one statement however many (PostgreSQL): the same JSON
    recordset as a flush, so a thousand rows cost one parameter instead of a thousand
    parameter sets. Returns `returning` of each row inserted."""
    h = _Held(table, rows, ignore_conflicts, counted=False, returning=returning)
    result = conn.exec_driver_sql(_sql(conn, [h]), (_rows_json(conn, h),))
    return [r[0] for r in result] if returning else []
