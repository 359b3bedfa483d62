"""Webhooks end to end: real worker processes, a real HTTP receiver on loopback, and the
database of the run (SQLite by default, PostgreSQL under .ci/run)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest
import sqlalchemy as sa
from flask import Flask

from policy_service.adapters.tables import webhook_deliveries
from policy_service.adapters.unit_of_work import SqlUnitOfWork
from policy_service.adapters.webhook_sender import SendResult
from policy_service.config import Config
from policy_service.domain.signatures import HEADER, verify
from policy_service.services import delivery
from tests.conftest import PRODUCTS, ApiClient, requires_postgres, shipping_policy
from tests.webhook_receiver import receiver

FAST = {
    "WORKER_POLL_SECONDS": "0.05",
    "WEBHOOK_BACKOFF_BASE_SECONDS": "0.3",
    "WEBHOOK_BACKOFF_MAX_SECONDS": "1",
    "WEBHOOK_TIMEOUT_SECONDS": "2",
    "WEBHOOK_LEASE_SECONDS": "4",
}


@pytest.fixture
def start_worker(db_url: str, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[IO[str]] = []

    def start(**extra: str) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "PRODUCTS_DIR": str(PRODUCTS),
            "DATA_DIR": str(tmp_path),
            "PII_HASH_KEY": "test-pii-key",
            **FAST,
            **extra,
        }
        log = (tmp_path / f"worker-{len(procs)}.log").open("w")
        logs.append(log)
        exe = Path(sys.executable).with_name("policy-service")
        proc = subprocess.Popen([str(exe), "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
    for log in logs:
        log.close()


def _lasting(ref: str) -> dict[str, Any]:
    """A policy whose cover lasts past today by the wall clock: a worker runs on real time
    (the app under test on its own fixed clock), and would expire an older one."""
    return shipping_policy(ref, delivery_date=(date.today() + timedelta(days=60)).isoformat())


def _endpoint(api: ApiClient, url: str) -> dict:
    status, body = api.post("/v1/webhook-endpoints", {"url": url, "events": ["*"]})
    assert status == 201
    return body


def _all_events(api: ApiClient) -> list[dict]:
    return api.get("/v1/events", limit=100)[1]["data"]


def test_every_event_arrives_signed_and_as_listed(api: ApiClient, start_worker) -> None:  # type: ignore[no-untyped-def]
    with receiver() as rx:
        endpoint = _endpoint(api, rx.url)
        pols = [api.post("/v1/policies", _lasting(f"o-{i}"))[1] for i in range(3)]
        api.post(f"/v1/policies/{pols[1]['id']}/cancel", {"reason": "order_cancelled"})
        start_worker()
        rx.wait_for(lambda r: len(r.received) >= 4)
        listed = {e["id"]: e for e in _all_events(api)}
        assert len(listed) == 4
        for got in rx.received:
            assert got.event == listed[got.event["id"]]  # exactly as GET /v1/events lists it
            verify(got.body, got.headers[HEADER], endpoint["secret"])
        assert sorted(e["type"] for e in (g.event for g in rx.received)) == [
            "policy.cancelled", "policy.issued", "policy.issued", "policy.issued",
        ]  # fmt: skip
        # The receiver has the event; the worker records the answer just after.
        deadline = time.monotonic() + 10
        while True:
            _, log = api.get(f"/v1/events/{next(iter(listed))}/deliveries")
            [only] = log["data"]
            if only["status"] != "pending" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert only["status"] == "succeeded"
        assert [a["outcome"] for a in only["attempts"]] == ["succeeded"]
        assert only["attempts"][0]["status_code"] == 200


def test_a_failing_receiver_gets_everything_after_it_recovers(api: ApiClient, start_worker) -> None:  # type: ignore[no-untyped-def]
    with receiver() as rx:
        rx.answer = lambda n: (500, 0.0) if n <= 6 else (200, 0.0)
        _endpoint(api, rx.url)
        pols = [api.post("/v1/policies", _lasting(f"o-{i}"))[1] for i in range(2)]
        start_worker()
        rx.wait_for(lambda r: len(r.received) >= 2)
        assert sorted(rx.event_ids()) == sorted(e["id"] for e in _all_events(api))
        event_id = _all_events(api)[0]["id"]
        [log] = api.get(f"/v1/events/{event_id}/deliveries")[1]["data"]
        assert log["status"] == "succeeded"
        failed = [a for a in log["attempts"] if a["outcome"] == "failed"]
        assert failed and all(
            a["status_code"] == 500 and a["error"] == "HTTP 500" for a in failed
        ), log["attempts"]
        assert log["attempts"][-1]["outcome"] == "succeeded"
        # each retry waited for the back-off the failed attempt announced
        for prev, nxt in zip(log["attempts"], log["attempts"][1:], strict=False):
            assert nxt["started_at"] >= prev["next_retry_at"]
        assert pols


@requires_postgres
def test_two_workers_deliver_each_event_once(
    api: ApiClient, start_worker, engine: sa.Engine
) -> None:  # type: ignore[no-untyped-def]
    with receiver() as rx:
        rx.answer = lambda n: (200, 0.05)
        _endpoint(api, rx.url)
        _endpoint(api, rx.url + "?second")
        items = [_lasting(f"o-{i}") for i in range(40)]
        assert api.post("/v1/policies/batch", {"items": items})[1]["issued"] == 40
        start_worker(WORKER_CONCURRENCY="4")
        start_worker(WORKER_CONCURRENCY="4")
        rx.wait_for(lambda r: len(r.received) >= 80, timeout=60)
        time.sleep(1)  # anything extra would show up now
        per_event = Counter(rx.event_ids())
        assert len(per_event) == 40 and set(per_event.values()) == {2}  # once per endpoint
        assert rx.max_in_flight_per_event <= 2  # never the same delivery twice at once
        with engine.connect() as conn:
            workers = conn.execute(
                sa.text("select count(distinct worker) from webhook_attempts")
            ).scalar()
            statuses = Counter(
                r.status for r in conn.execute(sa.select(webhook_deliveries.c.status))
            )
        assert workers == 2, "both workers took part"
        assert statuses == {"succeeded": 80}


def test_a_killed_worker_loses_nothing(api: ApiClient, start_worker, engine: sa.Engine) -> None:  # type: ignore[no-untyped-def]
    with receiver() as rx:
        rx.answer = lambda n: (200, 1.0)  # slow receiver: deliveries are in flight when we kill
        _endpoint(api, rx.url)
        items = [_lasting(f"o-{i}") for i in range(12)]
        api.post("/v1/policies/batch", {"items": items})
        first = start_worker(WORKER_CONCURRENCY="4")
        rx.wait_for(lambda r: sum(r.in_flight.values()) > 0 or len(r.received) > 0, timeout=30)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        start_worker(WORKER_CONCURRENCY="4")
        rx.wait_for(lambda r: set(r.event_ids()) >= {e["id"] for e in _all_events(api)}, timeout=60)

        def unsettled() -> int:
            with engine.connect() as conn:
                return conn.execute(
                    sa.select(sa.func.count())
                    .select_from(webhook_deliveries)
                    .where(webhook_deliveries.c.status != "succeeded")
                ).scalar_one()

        deadline = time.monotonic() + 30
        while unsettled() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert unsettled() == 0
        with engine.connect() as conn:
            outcomes = Counter(
                r.outcome for r in conn.execute(sa.text("select outcome from webhook_attempts"))
            )
        # the killed worker's attempts are on record as abandoned, then done again
        assert outcomes["abandoned"] >= 1 and outcomes["in_progress"] == 0, outcomes


# -- retry window, disabling, expiry: the worker's use cases on a clock we move ---------------


def _render(api: ApiClient) -> Any:
    """The app's policy renderer (what the worker is given)."""
    return api.client.application.extensions["policy_service"].render_policy


def _fail() -> SendResult:
    return SendResult(False, 503, 12, "HTTP 503", "down")


def test_retries_for_three_days_then_gives_up_and_disables(
    api: ApiClient, engine: sa.Engine, config: Config
) -> None:
    config = config.with_(webhook_retry_hours=72.0, webhook_disable_after_hours=120.0)
    endpoint = _endpoint(api, "http://127.0.0.1:9/never")
    api.post("/v1/policies", shipping_policy())
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    # fanned out when the event committed: nothing is left for the dispatcher
    assert delivery.dispatch_events(SqlUnitOfWork(engine), now) == 0
    start, attempts, status = now, 0, "pending"
    while status == "pending":
        [claimed] = delivery.claim(
            SqlUnitOfWork(engine), "w1", now, timedelta(seconds=60), 10, _render(api)
        )
        status = delivery.record(SqlUnitOfWork(engine), claimed, _fail(), now, config)
        attempts += 1
        with engine.connect() as conn:
            due = conn.execute(sa.select(webhook_deliveries.c.next_attempt_at)).scalar()
        if due is not None:
            assert (
                delivery.claim(
                    SqlUnitOfWork(engine),
                    "w1",
                    due - timedelta(seconds=1),
                    timedelta(seconds=60),
                    10,
                    _render(api),
                )
                == []
            )
            now = due
    assert status == "failed"
    assert now - start == timedelta(hours=72)  # retried across the whole window, then no more
    assert 15 <= attempts <= 30
    # a second event keeps failing for five days: the endpoint is disabled, with an event
    api.post("/v1/policies", shipping_policy("o-2"))
    later = start + timedelta(days=5, minutes=1)
    delivery.dispatch_events(SqlUnitOfWork(engine), later)
    [claimed] = delivery.claim(
        SqlUnitOfWork(engine), "w1", later, timedelta(seconds=60), 10, _render(api)
    )
    delivery.record(SqlUnitOfWork(engine), claimed, _fail(), later, config)
    _, fetched = api.get(f"/v1/webhook-endpoints/{endpoint['id']}")
    assert fetched["status"] == "disabled"
    assert fetched["disabled_reason"].startswith("every delivery failed since 2026-11-25T03:00:00")
    _, evts = api.get("/v1/events", type="webhook_endpoint.disabled")
    assert evts["data"][0]["data"]["object"]["id"] == endpoint["id"]


def test_policies_expire_when_their_cover_ends(
    app: Flask, api: ApiClient, engine: sa.Engine
) -> None:
    _, pol = api.post("/v1/policies", shipping_policy(delivery_date="2026-11-28"))
    view = app.extensions["policy_service"].render_policy

    assert (
        delivery.expire_policies(
            SqlUnitOfWork(engine), datetime(2026, 12, 5, 15, 59, tzinfo=UTC), view
        )
        == 0
    )
    assert (
        delivery.expire_policies(
            SqlUnitOfWork(engine), datetime(2026, 12, 5, 16, 0, tzinfo=UTC), view
        )
        == 1
    )
    _, fetched = api.get(f"/v1/policies/{pol['id']}")
    assert fetched["status"] == "expired"
    _, evts = api.get("/v1/events", type="policy.expired")
    assert evts["data"][0]["data"]["object"] == fetched
    # an expired policy can no longer be cancelled
    assert api.post(f"/v1/policies/{pol['id']}/cancel", {"reason": "other"})[0] == 409


def _delivery_status(engine: sa.Engine) -> tuple[str, datetime | None]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(webhook_deliveries.c.status, webhook_deliveries.c.next_attempt_at)
        ).one()
    return row.status, row.next_attempt_at


def test_a_resend_during_an_attempt_is_not_lost(
    api: ApiClient, engine: sa.Engine, config: Config
) -> None:
    config = config.with_(webhook_retry_hours=0.0)  # the attempt in flight is the last one
    _endpoint(api, "http://127.0.0.1:9/never")
    api.post("/v1/policies", shipping_policy())
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    delivery.dispatch_events(SqlUnitOfWork(engine), now)
    [claimed] = delivery.claim(
        SqlUnitOfWork(engine), "w1", now, timedelta(seconds=60), 10, _render(api)
    )
    event_id = claimed.event_id
    status, body = api.post(f"/v1/events/{event_id}/resend", {})  # while the attempt runs
    assert status == 200 and body["data"][0]["status"] == "pending"
    delivery.record(SqlUnitOfWork(engine), claimed, _fail(), now + timedelta(seconds=1), config)
    status_after, due = _delivery_status(engine)
    assert status_after == "pending" and due is not None  # the resend stands
    [log] = api.get(f"/v1/events/{event_id}/deliveries")[1]["data"]
    assert log["attempts"][0]["outcome"] == "failed"  # and the old attempt is on record


def test_disable_pauses_enable_resumes_delete_drops(api: ApiClient, engine: sa.Engine) -> None:
    endpoint = _endpoint(api, "http://127.0.0.1:9/never")
    api.post("/v1/policies", shipping_policy())
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    delivery.dispatch_events(SqlUnitOfWork(engine), now)
    api.post(f"/v1/webhook-endpoints/{endpoint['id']}", {"disabled": True})
    assert _delivery_status(engine)[0] == "paused"
    assert (
        delivery.claim(SqlUnitOfWork(engine), "w1", now, timedelta(seconds=60), 10, _render(api))
        == []
    )
    api.post(f"/v1/webhook-endpoints/{endpoint['id']}", {"disabled": False})
    assert _delivery_status(engine)[0] == "pending"
    api.client.delete(
        f"/v1/webhook-endpoints/{endpoint['id']}", headers={"Authorization": f"Bearer {api.key}"}
    )
    assert _delivery_status(engine)[0] == "failed"


def test_a_claimed_batch_is_recorded_at_once_each_delivery_on_its_own_terms(
    api: ApiClient, engine: sa.Engine, config: Config
) -> None:
    """A worker records its whole batch in one transaction: successes settle, failures are
    scheduled again and mark their endpoint failing, and a resend made while the batch was
    in flight still stands."""
    up = _endpoint(api, "http://127.0.0.1:9/up")
    down = _endpoint(api, "http://127.0.0.1:9/down")
    for i in range(3):
        api.post("/v1/policies", shipping_policy(f"o-{i}"))
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    claimed = delivery.claim(
        SqlUnitOfWork(engine), "w1", now, timedelta(seconds=60), 100, _render(api)
    )
    assert len(claimed) == 6
    resent = next(c for c in claimed if c.endpoint_id == up["id"])
    api.post(f"/v1/events/{resent.event_id}/resend", {"endpoint": up["id"]})
    ok = SendResult(True, 200, 3, None, None)
    outcomes = [(c, ok if c.endpoint_id == up["id"] else _fail()) for c in claimed]
    later = now + timedelta(seconds=1)
    statuses = delivery.record_all(SqlUnitOfWork(engine), outcomes, later, config)
    expected = ["pending" if c.endpoint_id == down["id"] else "succeeded" for c, _ in outcomes]
    assert statuses == expected
    with engine.connect() as conn:
        rows = {
            r.id: r
            for r in conn.execute(
                sa.select(
                    webhook_deliveries.c.id,
                    webhook_deliveries.c.status,
                    webhook_deliveries.c.lease_owner,
                )
            )
        }
        attempts = Counter(
            r.outcome for r in conn.execute(sa.text("select outcome from webhook_attempts"))
        )
    for c, _ in outcomes:
        # the resent delivery waits for its new attempt; every lease is released
        want = "pending" if c.endpoint_id == down["id"] or c is resent else "succeeded"
        assert (rows[c.delivery_id].status, rows[c.delivery_id].lease_owner) == (want, None)
    assert attempts == Counter(succeeded=3, failed=3)
    assert api.get(f"/v1/webhook-endpoints/{down['id']}")[1]["status"] == "enabled"
    with engine.connect() as conn:
        failing = dict(
            conn.execute(sa.text("select id, failing_since from webhook_endpoints")).all()
        )
    assert failing[up["id"]] is None and failing[down["id"]] is not None
