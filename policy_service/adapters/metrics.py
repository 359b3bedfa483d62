"""Prometheus metrics (prometheus-client). Under gunicorn every process writes its values
to PROMETHEUS_MULTIPROC_DIR (serve sets it) and a scrape adds them up; alone (tests, one
process) they live in the default registry. The outbox is measured when scraped, from the
database, so every instance shows the same backlog."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

_LATENCY = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "policy_service_http_requests_total", "HTTP requests", ["method", "route", "status"]
)
REQUEST_SECONDS = Histogram(
    "policy_service_http_request_seconds", "HTTP request latency", ["route"], buckets=_LATENCY
)
QUOTES = Counter("policy_service_quotes_total", "quotes made", ["product", "mode"])
ISSUES = Counter("policy_service_policies_issued_total", "policies issued", ["product", "mode"])
CANCELS = Counter(
    "policy_service_policies_cancelled_total", "policies cancelled", ["product", "mode"]
)
ENDORSEMENTS = Counter(
    "policy_service_policies_endorsed_total", "policies endorsed", ["product", "mode"]
)
SETTLEMENTS = Counter(
    "policy_service_trigger_settlements_total", "trigger reports applied", ["trigger"]
)
SETTLED = Counter(
    "policy_service_policies_settled_total", "policies a trigger report matched", ["trigger"]
)
CLAIMS = Counter("policy_service_claims_total", "claims decided by triggers", ["outcome"])
DELIVERIES = Counter(
    "policy_service_webhook_deliveries_total", "webhook delivery attempts", ["outcome"]
)
DELIVERY_SECONDS = Histogram(
    "policy_service_webhook_delivery_seconds", "webhook delivery latency", buckets=_LATENCY
)
PAYMENT_CALLS = Counter(
    "policy_service_payment_calls_total", "calls to the payment API", ["operation", "outcome"]
)


def mode(livemode: bool) -> str:
    return "live" if livemode else "test"


class OutboxCollector(Collector):
    """Events not yet fanned out and deliveries not yet done, and the oldest's age."""

    def __init__(
        self,
        measure: Callable[[], tuple[int, datetime | None, int, datetime | None]],
        clock: Callable[[], datetime],
    ) -> None:
        self.measure = measure
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            events, oldest_event, deliveries, oldest_delivery = self.measure()
        except Exception:  # the database away: the scrape still answers, without these
            return
        now = self.clock()
        backlog = GaugeMetricFamily(
            "policy_service_outbox_backlog", "outbox work waiting", labels=["kind"]
        )
        backlog.add_metric(["events"], events)
        backlog.add_metric(["deliveries"], deliveries)
        yield backlog
        age = GaugeMetricFamily(
            "policy_service_outbox_oldest_seconds", "age of the oldest waiting", labels=["kind"]
        )
        age.add_metric(["events"], (now - oldest_event).total_seconds() if oldest_event else 0)
        age.add_metric(
            ["deliveries"], (now - oldest_delivery).total_seconds() if oldest_delivery else 0
        )
        yield age


def exposition(extra: Collector | None = None) -> tuple[bytes, str]:
    """The text a scrape gets: every process's values (multiprocess mode) or this one's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    if extra is not None:
        own = CollectorRegistry()
        own.register(extra)
        text += generate_latest(own)
    return text, CONTENT_TYPE_LATEST


def start_server(port: int, extra: Collector) -> None:
    """This process's own /metrics on 127.0.0.1:`port` (the worker's), in a thread."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    registry.register(extra)
    start_http_server(port, addr="127.0.0.1", registry=registry)


def process_ended(pid: int) -> None:
    """A gunicorn worker exited: its live gauges go (counters stay summed)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)
