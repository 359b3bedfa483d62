"""What PostgreSQL itself can write: a raw COPY of exactly the rows a scenario wrote.

Count every table's rows before and after the scenario; afterwards take that many of the
newest rows of each table, and COPY them into empty copies of the tables (same columns,
defaults, constraints and indexes), durably, in one transaction. The policies the scenario
issued divided by the COPY's seconds is the ceiling the row design puts on bulk issue."""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg


@dataclass
class CopyCeiling:
    policies: int
    rows: dict[str, int]
    bytes: int
    seconds: float

    @property
    def rows_per_policy(self) -> float:
        return sum(self.rows.values()) / self.policies if self.policies else 0.0

    @property
    def bytes_per_policy(self) -> float:
        return self.bytes / self.policies if self.policies else 0.0

    @property
    def policies_per_s(self) -> float:
        return self.policies / self.seconds if self.seconds else 0.0


def _tables(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename NOT LIKE 'bench_copy_%' AND tablename <> 'alembic_version' ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def table_counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return {
            t: int(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0])  # type: ignore[index]
            for t in _tables(conn)
        }


def _order_column(conn: psycopg.Connection, table: str) -> str:
    """The newest rows first: by the primary key's first column (ids are time-ordered)."""
    row = conn.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = i.indkey[0] WHERE i.indrelid = %s::regclass AND i.indisprimary",
        (f'"{table}"',),
    ).fetchone()
    return str(row[0]) if row else "ctid"


def copy_ceiling(dsn: str, before: dict[str, int], after: dict[str, int]) -> CopyCeiling:
    written = {t: after[t] - before.get(t, 0) for t in after if after[t] > before.get(t, 0)}
    policies = written.get("policies", 0)
    data: dict[str, bytes] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table, n in written.items():
            order = _order_column(conn, table)
            buf = bytearray()
            query = f'COPY (SELECT * FROM "{table}" ORDER BY {order} DESC LIMIT {n}) TO STDOUT'
            with conn.cursor().copy(query) as copy:
                for chunk in copy:
                    buf += chunk
            data[table] = bytes(buf)
            conn.execute(f'DROP TABLE IF EXISTS "bench_copy_{table}"')
            # Without foreign keys (LIKE copies none): COPY checks what a table checks itself.
            conn.execute(
                f'CREATE TABLE "bench_copy_{table}" (LIKE "{table}" INCLUDING DEFAULTS '
                "INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING GENERATED)"
            )
        started = time.perf_counter()
        with conn.transaction():
            for table, payload in data.items():
                with conn.cursor().copy(f'COPY "bench_copy_{table}" FROM STDIN') as copy:
                    copy.write(payload)
        seconds = time.perf_counter() - started
        for table in data:
            conn.execute(f'DROP TABLE "bench_copy_{table}"')
    return CopyCeiling(policies, written, sum(len(d) for d in data.values()), seconds)
