"""An issue's inserts are held and written together (adapters/held_inserts.py): one
statement on PostgreSQL, one driver call per table on SQLite. The rows must be exactly
those the general path writes, a conflict must fall back to the general path with nothing
half-written, and a connection must never carry held rows into its next use."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from policy_service.adapters import held_inserts
from policy_service.adapters.tables import (
    cover_locks,
    events,
    idempotency_keys,
    ledger_entries,
    policies,
    policy_subjects,
)
from policy_service.services import issue_transaction
from tests.conftest import (
    ApiClient,
    flight_policy,
    passenger,
    requires_postgres,
    shipping_policy,
)

WRITTEN = (idempotency_keys, policies, cover_locks, policy_subjects, events, ledger_entries)


@pytest.fixture
def statements(app: Flask) -> Iterator[list[str]]:
    """The text of every statement the app's engine executes."""
    engine = app.extensions["policy_service"].uow.engine
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", record)


def _writes(seen: list[str]) -> list[str]:
    return [s for s in seen if s.lstrip().upper().startswith(("INSERT", "WITH", "UPDATE"))]


def _rows(engine: sa.Engine, policy_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the written tables that belongs to one policy, without what differs
    between two policies by nature (ids, keys, refs)."""
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for table in WRITTEN:
            if table is policies:
                stmt = sa.select(table).where(table.c.id == policy_id)
            elif table is events:
                stmt = sa.select(table).where(table.c.object_id == policy_id)
            else:
                stmt = sa.select(table).where(table.c.policy_id == policy_id)
            out[table.name] = [
                {
                    k: v
                    for k, v in row._mapping.items()
                    if k not in ("id", "policy_id", "key", "object_id", "response_body", "data")
                    and k not in ("external_ref", "subject_key", "cover_key", "risk", "worksheet")
                }
                for row in conn.execute(stmt)
            ]
    return out


def test_a_fresh_issue_is_one_write_statement(
    api: ApiClient, engine: sa.Engine, statements: list[str]
) -> None:
    status, body = api.post("/v1/policies", shipping_policy("held-1"), key="held-1")
    assert status == 201, body
    writes = _writes(statements)
    if engine.dialect.name == "postgresql":
        assert len(writes) == 1 and writes[0].startswith("WITH"), writes
    else:  # one prepared insert per table, nothing else
        assert sorted(w.split('"')[1] for w in writes) == sorted(t.name for t in WRITTEN)


def test_held_rows_are_the_rows_of_the_general_path(
    api: ApiClient, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, held_policy = api.post(
        "/v1/policies", flight_policy("held-a", holder=passenger()), key="held-a"
    )
    assert status == 201, held_policy

    real = issue_transaction._issue_once

    def general(*args: Any) -> Any:
        return real(*args[:-1], False)

    monkeypatch.setattr(issue_transaction, "_issue_once", general)
    other = passenger("440524198801010011", "李四")
    status, general_policy = api.post(
        "/v1/policies", flight_policy("held-b", holder=other), key="held-b"
    )
    assert status == 201, general_policy

    held_rows, general_rows = _rows(engine, held_policy["id"]), _rows(engine, general_policy["id"])
    for table in WRITTEN:
        assert len(held_rows[table.name]) >= 1, table.name
        for a, b in zip(held_rows[table.name], general_rows[table.name], strict=True):
            a = {k: v for k, v in a.items() if k not in ("policyholder_name", "fingerprint")}
            b = {k: v for k, v in b.items() if k not in ("policyholder_name", "fingerprint")}
            assert a.keys() == b.keys()
            for k in a:
                if k.endswith("_hash") or k.endswith("_last4"):
                    continue
                assert type(a[k]) is type(b[k]) and (a[k] == b[k] or "at" in k), (table.name, k)


def test_a_conflict_falls_back_and_leaves_nothing_half_written(
    api: ApiClient, engine: sa.Engine, statements: list[str]
) -> None:
    status, first = api.post("/v1/policies", shipping_policy("held-dup"), key="dup-1")
    assert status == 201
    statements.clear()
    # The same order under another ref: the held write loses the cover lock, rolls back,
    # and the general path answers duplicate_cover.
    again = shipping_policy("held-dup-2", order_id=first["risk"]["order_id"])
    status, body = api.post("/v1/policies", again, key="dup-2")
    assert status == 422 and body["error"]["code"] == "duplicate_cover", body
    # tried first (the held write: PostgreSQL's CTE, SQLite's quoted driver inserts), then
    # the general path (SQLAlchemy's own statements, which quote nothing here)
    assert any(s.startswith(("WITH", 'INSERT INTO "')) for s in statements)
    assert any(s.startswith("INSERT INTO policies") for s in statements)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(policies)).scalar() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(ledger_entries)).scalar() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar() == 1
        stored = conn.execute(
            sa.select(idempotency_keys.c.status_code).where(idempotency_keys.c.key == "dup-2")
        ).scalar()
    assert stored == 422  # the refusal is what a retry with the key replays


def test_a_connection_never_carries_held_rows_into_its_next_use(engine: sa.Engine) -> None:
    from policy_service.adapters.unit_of_work import SqlUnitOfWork

    uow = SqlUnitOfWork(engine)
    with pytest.raises(RuntimeError), uow.write() as tx, tx.held_inserts():
        tx.events.insert_many([])  # nothing
        raise RuntimeError("the use case failed half-way")
    with engine.connect() as conn:
        # Pooled connections share conn.info per DBAPI connection: nothing may be left.
        assert not held_inserts.held(
            conn, events, [{"id": "x"}], ignore_conflicts=False, counted=False
        )


@requires_postgres
@pytest.mark.parametrize("count", [1, held_inserts.COPY_FROM], ids=["json-recordset", "copy"])
def test_many_rows_go_in_as_given_and_a_naive_time_is_refused(
    api: ApiClient, engine: sa.Engine, count: int
) -> None:
    # a partner's events, each with a document and an aware time in another offset
    at = datetime(2026, 11, 25, 10, 0, tzinfo=timezone(timedelta(hours=8)))
    rows = [
        {
            "id": f"evt_copy{count}_{i}",
            "partner_id": api.partner_id,
            "livemode": False,
            "type": "claim.paid",
            "object_type": "claim",
            "object_id": f"clm_{i}",
            "data": {"n": i, "text": "张三", "nested": {"1": [True, None]}},
            "created_at": at,
        }
        for i in range(count)
    ]
    with engine.begin() as conn:
        held_inserts.insert_now(conn, events, rows, ignore_conflicts=False)
    with engine.connect() as conn:
        got = conn.execute(
            sa.select(events.c.data, events.c.created_at).where(events.c.id == rows[-1]["id"])
        ).one()
    assert got.data == rows[-1]["data"] and got.created_at == at
    naive = [{**r, "id": r["id"] + "n", "created_at": at.replace(tzinfo=None)} for r in rows]
    with pytest.raises(ValueError, match="naive datetime"), engine.begin() as conn:
        held_inserts.insert_now(conn, events, naive, ignore_conflicts=False)


@requires_postgres
def test_a_copy_that_breaks_a_key_raises_as_the_driver_would(
    api: ApiClient, engine: sa.Engine
) -> None:
    orphans = [
        {"subject_key": f"k{i}", "policy_id": "pol_none"} for i in range(held_inserts.COPY_FROM)
    ]
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        held_inserts.insert_now(conn, policy_subjects, orphans, ignore_conflicts=False)
