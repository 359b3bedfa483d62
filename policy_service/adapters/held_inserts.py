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
from typing import Any, cast

import orjson
import psycopg
import sqlalchemy as sa

from .tables import UTCDateTime

#: conn.info key under which the held inserts live while holding is on
_KEY = "policy_service.held_inserts"


@dataclass
class _Held:
    table: sa.Table
    rows: list[dict[str, Any]]
    ignore_conflicts: bool
    #: every row must go in (the caller assumed they all did)
    counted: bool


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

#: (dialect, table, columns, ignore_conflicts) -> the insert's SQL and each column's bind
#: processor: made once per shape, the hot path only binds
_INSERTS: dict[tuple[str, str, tuple[str, ...], bool], tuple[str, list[Any]]] = {}
#: the flush statement of each sequence of insert shapes
_CTES: dict[tuple[Any, ...], str] = {}


def _insert(conn: sa.Connection, h: _Held) -> tuple[str, list[Any]]:
    """One table's insert for this dialect (PostgreSQL: from one JSON parameter; SQLite:
    a row of placeholders for the driver's executemany) and its columns' processors
    (PostgreSQL: none for JSON documents, which go into the JSON parameter as they are)."""
    cols = tuple(h.rows[0])
    key = (conn.dialect.name, h.table.name, cols, h.ignore_conflicts)
    known = _INSERTS.get(key)
    if known is not None:
        return known
    columns = [h.table.c[c] for c in cols]
    if conn.dialect.name == "postgresql":
        record = ", ".join(f"{c.name} {_record_type(conn, c)}" for c in columns)
        names = ", ".join(cols)
        sql = (
            f"INSERT INTO {h.table.name} ({names}) SELECT {names} "
            f"FROM jsonb_to_recordset(%s::jsonb) AS r({record})"
        )
        procs = [
            None if isinstance(c.type, sa.JSON) else c.type._cached_bind_processor(conn.dialect)
            for c in columns
        ]
    else:
        names = ", ".join(f'"{c}"' for c in cols)
        sql = f'INSERT INTO "{h.table.name}" ({names}) VALUES ({", ".join("?" for _ in cols)})'
        procs = [c.type._cached_bind_processor(conn.dialect) for c in columns]
    if h.ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    known = _INSERTS[key] = (sql, procs)
    return known


def _record_type(conn: sa.Connection, column: sa.Column[Any]) -> str:
    compiled = column.type.compile(dialect=conn.dialect)
    return _RECORD_TYPES.get(compiled.split("(", 1)[0], compiled)


def _bound(h: _Held, procs: list[Any]) -> list[tuple[Any, ...]]:
    """Each row's values as its columns' bind processing makes them (UTC datetimes,
    checked; on SQLite JSON as text)."""
    cols = list(h.rows[0])
    return [
        tuple(p(row[c]) if p else row[c] for c, p in zip(cols, procs, strict=True))
        for row in h.rows
    ]


def _rows_json(h: _Held, procs: list[Any]) -> str:
    """The rows as one JSON array of objects, for jsonb_to_recordset."""
    cols = list(h.rows[0])
    if _orjson_writes_them(h.table, cols, procs):
        # orjson writes an aware datetime with its offset, which timestamptz reads as the
        # same instant: only the bind processor's refusal of naive ones is left to do
        _refuse_naive(h.rows, [c for c in cols if isinstance(h.table.c[c].type, UTCDateTime)])
        rows = h.rows
    elif any(procs):
        rows = [dict(zip(cols, v, strict=True)) for v in _bound(h, procs)]
    else:
        rows = h.rows
    # int keys become strings, as json.dumps (SQLAlchemy's serializer) makes them
    return orjson.dumps(rows, option=orjson.OPT_NON_STR_KEYS).decode()


def _orjson_writes_them(table: sa.Table, cols: list[str], procs: list[Any]) -> bool:
    """Whether orjson's own writing of the values will do: datetimes (checked for naive
    ones) and booleans (JSON's own) are the only values with bind processing."""
    return all(
        p is None or isinstance(table.c[c].type, UTCDateTime | sa.Boolean)
        for c, p in zip(cols, procs, strict=True)
    )


def _refuse_naive(rows: list[dict[str, Any]], columns: list[str]) -> None:
    for row in rows:
        for c in columns:
            value = row[c]
            if value is not None and value.tzinfo is None:
                raise ValueError("naive datetime refused: store timezone-aware UTC")


#: from this many rows, a plain insert (no conflict to skip, nothing read back) goes by
#: COPY: a large JSON parameter is parsed whole before its rows are taken apart
COPY_FROM = 200


def _copy(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Rows written with PostgreSQL's COPY, in the connection's transaction."""
    cols = list(rows[0])
    documents = {c for c in cols if isinstance(table.c[c].type, sa.JSON)}
    datetimes = [c for c in cols if isinstance(table.c[c].type, UTCDateTime)]
    _refuse_naive(rows, datetimes)
    raw = cast(psycopg.Connection[Any], conn.connection.dbapi_connection)
    sql = f"COPY {table.name} ({', '.join(cols)}) FROM STDIN"
    try:
        _copy_rows(raw, sql, cols, documents, rows)
    except psycopg.Error as exc:
        # as SQLAlchemy raises a driver's error: callers catch IntegrityError and the rest
        raise sa.exc.DBAPIError.instance(
            sql, None, exc, psycopg.Error, hide_parameters=True, dialect=conn.dialect
        ) from exc


def _copy_rows(
    raw: psycopg.Connection[Any],
    sql: str,
    cols: list[str],
    documents: set[str],
    rows: list[dict[str, Any]],
) -> None:
    with raw.cursor() as cur, cur.copy(sql) as copy:
        for row in rows:
            copy.write_row(
                [
                    _json_text(row[c]) if c in documents and row[c] is not None else row[c]
                    for c in cols
                ]
            )


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _flush_postgresql(conn: sa.Connection, pending: list[_Held]) -> bool:
    """The held inserts in the order they were made (a row's parent is written before
    it): a large plain insert by COPY, the others in between as one statement each run."""
    ok, run = True, list[_Held]()
    for h in pending:
        if not h.counted and not h.ignore_conflicts and len(h.rows) >= COPY_FROM:
            ok = _statement(conn, run) and ok
            run = []
            # a conflict here is a real error, and rolls the whole transaction back
            _copy(conn, h.table, h.rows)
        else:
            run.append(h)
    return _statement(conn, run) and ok


def _statement(conn: sa.Connection, pending: list[_Held]) -> bool:
    """Inserts as one statement: a data-modifying CTE each, counting what went in."""
    if not pending:
        return True
    inserts = [_insert(conn, h) for h in pending]
    shape = tuple((sql, h.counted) for (sql, _), h in zip(inserts, pending, strict=True))
    cte = _CTES.get(shape)
    if cte is None:
        parts, counts = [], []
        for i, (sql, counted) in enumerate(shape):
            if counted:
                sql += " RETURNING 1"
                counts.append(f"(SELECT count(*) FROM w{i})")
            parts.append(f"w{i} AS ({sql})")
        cte = _CTES[shape] = f"WITH {', '.join(parts)} SELECT {', '.join(counts) or '1'}"
    params = tuple(_rows_json(h, procs) for (_, procs), h in zip(inserts, pending, strict=True))
    row = conn.exec_driver_sql(cte, params).one()
    expected = [len(h.rows) for h in pending if h.counted]
    return not expected or list(row) == expected


def _flush_sqlite(conn: sa.Connection, pending: list[_Held]) -> bool:
    """SQLite has no data-modifying CTEs, and no round trips to save: one prepared
    statement per table, its rows bound by the driver (executemany), without building
    and compiling a SQLAlchemy statement for each. The row count says what went in."""
    for h in pending:
        sql, procs = _insert(conn, h)
        result = conn.exec_driver_sql(sql, _bound(h, procs))
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
        return _flush_postgresql(conn, pending)
    except sa.exc.IntegrityError:
        # A row whose parent was skipped (a policy that conflicted, its cover lock): the
        # same verdict as a short count, and the transaction is rolled back all the same.
        # Without counted rows nothing was assumed: the error is real.
        if any(h.counted for h in pending):
            return False
        raise


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
    if not ignore_conflicts and not returning and len(rows) >= COPY_FROM:
        _copy(conn, table, rows)
        return []
    h = _Held(table, rows, ignore_conflicts, counted=False)
    sql, procs = _insert(conn, h)
    if returning:
        sql += f" RETURNING {table.c[returning].name}"
    result = conn.exec_driver_sql(sql, (_rows_json(h, procs),))
    return [r[0] for r in result] if returning else []
