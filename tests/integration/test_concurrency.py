"""Concurrent duplicates create exactly one policy. Runs on the suite's database: SQLite in
the default run, PostgreSQL when DATABASE_URL points there (.ci/run does both)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from policy_service.adapters.tables import events, idempotency_keys, policies
from tests.conftest import (
    PRODUCTS,
    ApiClient,
    flight_policy,
    make_partner,
    passenger,
    shipping_policy,
)
from tests.live_service import gunicorn_service, service_env

THREADS = 12


def _race(n: int, fire: Callable[[int], tuple[int, Any]]) -> list[tuple[int, Any]]:
    """Run fire(i) in n threads released at the same instant."""
    barrier = threading.Barrier(n)
    results: list[tuple[int, Any]] = [(0, None)] * n

    def run(i: int) -> None:
        barrier.wait()
        results[i] = fire(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_same_idempotency_key_from_many_threads(
    app: Flask, api: ApiClient, engine: sa.Engine
) -> None:
    def fire(_: int) -> tuple[int, Any]:
        r = app.test_client().post(
            "/v1/policies",
            json=flight_policy(),
            headers={"Authorization": f"Bearer {api.key}", "Idempotency-Key": "race-1"},
        )
        return r.status_code, r.data

    results = _race(THREADS, fire)
    assert {status for status, _ in results} == {201}
    assert len({body for _, body in results}) == 1
    assert _count(engine, policies) == 1
    assert _count(engine, events) == 1
    assert _count(engine, idempotency_keys) == 1


def test_same_external_ref_without_key(app: Flask, api: ApiClient, engine: sa.Engine) -> None:
    def fire(i: int) -> tuple[int, Any]:
        r = app.test_client().post(
            "/v1/policies",
            json=shipping_policy("order-race", category=["apparel", "shoes"][i % 2]),
            headers={"Authorization": f"Bearer {api.key}"},
        )
        return r.status_code, r.get_json()

    statuses = sorted(s for s, _ in _race(THREADS, fire))
    assert statuses == [201] + [409] * (THREADS - 1)
    assert _count(engine, policies) == 1


def test_same_passenger_through_many_partners(app: Flask, engine: sa.Engine) -> None:
    keys = [make_partner(engine, f"partner {i}")[1] for i in range(THREADS)]

    def fire(i: int) -> tuple[int, Any]:
        r = app.test_client().post(
            "/v1/policies",
            json=flight_policy(f"booking-{i}", passenger()),
            headers={"Authorization": f"Bearer {keys[i]}"},
        )
        return r.status_code, r.get_json()

    statuses = sorted(s for s, _ in _race(THREADS, fire))
    assert statuses == [201] + [422] * (THREADS - 1)
    assert _count(engine, policies) == 1


def test_same_batch_key_from_many_threads(app: Flask, api: ApiClient, engine: sa.Engine) -> None:
    items = [shipping_policy(f"batch-race-{i}") for i in range(20)]

    def fire(_: int) -> tuple[int, Any]:
        r = app.test_client().post(
            "/v1/policies/batch",
            json={"items": items},
            headers={"Authorization": f"Bearer {api.key}", "Idempotency-Key": "batch-race"},
        )
        return r.status_code, r.data

    results = _race(THREADS, fire)
    assert {s for s, _ in results} == {200}
    assert len({b for _, b in results}) == 1  # every caller gets the answer that was committed
    assert json.loads(results[0][1])["issued"] == 20
    assert _count(engine, policies) == 20


def test_batches_sharing_quotes_do_not_fail(app: Flask, api: ApiClient, engine: sa.Engine) -> None:
    quotes = [
        api.post(
            "/v1/quotes", {"product": "return_shipping", "risk": shipping_policy(f"q{i}")["risk"]}
        )[1]["id"]
        for i in range(10)
    ]

    def fire(i: int) -> tuple[int, Any]:
        order = quotes if i % 2 else quotes[::-1]
        items = [{"quote": q, "external_ref": f"ref-{q}"} for q in order]
        r = app.test_client().post(
            "/v1/policies/batch",
            json={"items": items},
            headers={"Authorization": f"Bearer {api.key}"},
        )
        return r.status_code, r.get_json()

    results = _race(6, fire)
    assert {s for s, _ in results} == {200}
    assert sum(body["issued"] for _, body in results) == 10
    assert _count(engine, policies) == 10


# -- separate processes: gunicorn workers -------------------------------------------------


@pytest.fixture(
    params=[
        ("4", ()),
        ("2", ("--threads", "4")),
        ("2", ("--server", "granian", "--threads", "2")),
    ],
    ids=["gunicorn-sync", "gunicorn-threads", "granian"],
)
def server(
    db_url: str, engine: sa.Engine, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """Every way `serve` runs: worker processes, threads in them, granian's Rust server."""
    workers, args = request.param
    env = service_env(db_url, PRODUCTS, tmp_path)
    with gunicorn_service(env, tmp_path / "server.log", int(workers), *args) as base:
        yield base


@pytest.mark.slow
def test_concurrent_duplicates_across_worker_processes(server: str, engine: sa.Engine) -> None:
    _, key = make_partner(engine)
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "proc-race"}
    body = flight_policy("booking-proc")

    def fire(_: int) -> tuple[int, Any]:
        r = requests.post(f"{server}/v1/policies", json=body, headers=headers, timeout=30)
        return r.status_code, r.content

    results = _race(THREADS, fire)
    assert {s for s, _ in results} == {201}, results
    bodies = {b for _, b in results}
    assert len(bodies) == 1
    assert _count(engine, policies) == 1
    policy = json.loads(bodies.pop())
    # and the policy is readable through any worker
    got = requests.get(
        f"{server}/v1/policies/{policy['id']}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert got.json() == policy


def test_a_cancel_and_a_paying_report_at_once_never_both_move_money(
    app: Flask, api: ApiClient, engine: sa.Engine
) -> None:
    """Each policy is either refunded (the cancel went first) or paid (the report did),
    never both: the two take the policy's row lock one after the other."""
    from datetime import timedelta

    from policy_service.adapters.tables import ledger_entries
    from tests.claims_helpers import flight_status, resident_id

    clock = app.extensions["policy_service"].clock
    departure = clock() + timedelta(hours=5)  # still refunded in full by the rule
    ids = []
    for i in range(THREADS):
        body = flight_policy(
            f"race-{i}", holder=passenger(resident_id(i)), scheduled_departure=departure.isoformat()
        )
        status, policy = api.post("/v1/policies", body)
        assert status == 201, policy
        ids.append(policy["id"])
    # A test key simulates the delay once it is a fact (an observed_at ahead of the clock).
    observed = (departure + timedelta(minutes=130)).isoformat()
    report = flight_status(125, "delayed", "MU5101", departure.isoformat(), observed)

    def fire(i: int) -> tuple[int, Any]:
        client = app.test_client()
        auth = {"Authorization": f"Bearer {api.key}"}
        if i == 0:
            r = client.post("/v1/trigger-events", json=report, headers=auth)
        else:
            r = client.post(f"/v1/policies/{ids[i]}/cancel", json={"reason": "other"}, headers=auth)
        return r.status_code, r.get_json()

    results = _race(THREADS, fire)
    assert all(status in (200, 201, 409) for status, _ in results), results
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(ledger_entries.c.policy_id, ledger_entries.c.kind).where(
                ledger_entries.c.kind.in_(("refund", "payout"))
            )
        ).all()
    kinds: dict[str, set[str]] = {}
    for policy_id, kind in rows:
        kinds.setdefault(policy_id, set()).add(kind)
    assert all(len(k) == 1 for k in kinds.values()), kinds
    assert set(kinds) == set(ids)  # each was cancelled with a refund or paid
