"""What the service counts, one function a fact (the Prometheus instruments themselves are
adapters/metrics.py). Counted after the commit, so a rolled-back request counts nothing but
its HTTP answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from policy_service.adapters import metrics as m

from .unit_of_work import UnitOfWork


def request(method: str, route: str, status: int, seconds: float) -> None:
    m.REQUESTS.labels(method, route, str(status)).inc()
    m.REQUEST_SECONDS.labels(route).observe(seconds)


def quoted(product: str, livemode: bool) -> None:
    m.QUOTES.labels(product, m.mode(livemode)).inc()


def issued(product: str, livemode: bool) -> None:
    m.ISSUES.labels(product, m.mode(livemode)).inc()


def cancelled(product: str, livemode: bool) -> None:
    m.CANCELS.labels(product, m.mode(livemode)).inc()


def endorsed(product: str, livemode: bool) -> None:
    m.ENDORSEMENTS.labels(product, m.mode(livemode)).inc()


def settled(trigger: str, matched: int, outcomes: dict[str, int]) -> None:
    """A trigger report applied: the policies it matched, the claims by outcome."""
    m.SETTLEMENTS.labels(trigger).inc()
    m.SETTLED.labels(trigger).inc(matched)
    for outcome, count in outcomes.items():
        if count:
            m.CLAIMS.labels(outcome).inc(count)


def delivered(ok: bool, seconds: float) -> None:
    m.DELIVERIES.labels("delivered" if ok else "failed").inc()
    m.DELIVERY_SECONDS.observe(seconds)


def payment_call(operation: str, outcome: str) -> None:
    m.PAYMENT_CALLS.labels(operation, outcome).inc()


def _outbox(uow: UnitOfWork, clock: Callable[[], datetime]) -> m.OutboxCollector:
    def measure() -> tuple[int, datetime | None, int, datetime | None]:
        with uow.read() as tx:
            return tx.webhooks.outbox(clock())

    return m.OutboxCollector(measure, clock)


def exposition(uow: UnitOfWork, clock: Callable[[], datetime]) -> tuple[bytes, str]:
    """Every process's metrics, and the outbox as the database has it now."""
    return m.exposition(_outbox(uow, clock))


def serve_worker_metrics(port: int, uow: UnitOfWork, clock: Callable[[], datetime]) -> None:
    """The worker's own /metrics on 127.0.0.1:`port`."""
    m.start_server(port, _outbox(uow, clock))


def process_ended(pid: int) -> None:
    m.process_ended(pid)
