"""The outbox processor: `policy-service worker`.

Each loop fans new events out to webhook endpoints, expires policies whose cover ended,
and delivers due webhooks (several at once, each under a lease). Any number of workers
may run against PostgreSQL (rows are claimed with FOR UPDATE SKIP LOCKED); on SQLite one
is enough (transactions are serialised anyway, and the lease keeps a second one honest).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import FrameType
from urllib.parse import urlsplit

import sqlalchemy as sa

from .adapters.webhook_sender import SendResult, WebhookSender
from .bootstrap import Services, bootstrap, configure_logging
from .config import Config
from .services import delivery, metrics, payment_settling, payouts, privacy

log = logging.getLogger("policy_service.worker")

EXPIRY_EVERY_SECONDS = 30.0
RECONCILE_EVERY_SECONDS = 5.0
#: the privacy retention sweep (PRIVACY_RETENTION_DAYS): hourly is soon enough
RETENTION_EVERY_SECONDS = 3600.0


class Worker:
    def __init__(self, services: Services, name: str | None = None) -> None:
        config = services.config
        concurrency = max(config.worker_concurrency, 1)
        batch = max(config.worker_batch, concurrency)
        # A send ends at its hard deadline, and a batch is sent in waves of `concurrency`:
        # the lease must outlast every wave and the recording, or another worker resends.
        waves = -(-batch // concurrency)
        # twice the timeout per wave: the host is resolved before a send's deadline starts
        lease = 2 * waves * config.webhook_timeout_seconds + 5
        if config.webhook_lease_seconds < lease:
            config = config.with_(webhook_lease_seconds=lease)
        self.batch = batch
        self.config = config
        self.services = services
        self.uow = services.uow
        self.catalog = services.catalog
        self.billing = services.billing()
        self.claims = services.claims()
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.sender = WebhookSender(config.webhook_timeout_seconds)
        self.pool = ThreadPoolExecutor(max_workers=concurrency)
        self.stopping = threading.Event()
        self._next_expiry = 0.0
        self._next_reconcile = 0.0
        self._next_retention = 0.0

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    def run_once(self) -> int:
        """One pass; returns how much work it found (0: idle)."""
        done = delivery.dispatch_events(self.uow, self.now())
        if time.monotonic() >= self._next_expiry:
            self._next_expiry = time.monotonic() + EXPIRY_EVERY_SECONDS
            self.catalog.maybe_reload()
            cutoff = self.now() - timedelta(hours=self.config.idempotency_ttl_hours)
            done += delivery.purge_idempotency_keys(self.uow, cutoff)
            done += delivery.expire_policies(self.uow, self.now(), self.services.render_policy)
        days = self.config.privacy_retention_days
        if days and time.monotonic() >= self._next_retention:
            self._next_retention = time.monotonic() + RETENTION_EVERY_SECONDS
            done += privacy.apply_retention(self.uow, self.claims.files, self.now(), days)
        if time.monotonic() >= self._next_reconcile:
            self._next_reconcile = time.monotonic() + RECONCILE_EVERY_SECONDS
            done += payment_settling.reconcile(self.billing, self.now())
            done += payouts.send_pending(self.claims, self.billing.gateway, self.now())
        claimed = delivery.claim(
            self.uow,
            self.name,
            self.now(),
            timedelta(seconds=self.config.webhook_lease_seconds),
            self.batch,
            self.services.render_policy,
        )
        results = list(self.pool.map(self._send, claimed))
        outcomes = list(zip(claimed, results, strict=True))
        statuses = delivery.record_all(self.uow, outcomes, self.now(), self.config)
        for (c, result), status in zip(outcomes, statuses, strict=True):
            metrics.delivered(result.ok, result.latency_ms / 1000)
            log.info(
                "%s %s -> %s attempt %d: %s",
                c.event_id,
                c.endpoint_id,
                _without_query(c.url),
                c.number,
                "ok" if result.ok else f"{result.error} ({status})",
            )
        return done + len(claimed)

    def _send(self, claimed: delivery.webhooks_repo.Claimed) -> SendResult:
        # Test-mode endpoints may be on loopback (local development); live ones never.
        return self.sender.send(
            claimed.url, delivery.body_of(claimed), claimed.secrets, not claimed.livemode
        )

    def run(self) -> None:
        log.info("worker %s started (concurrency %d)", self.name, self.config.worker_concurrency)
        while not self.stopping.is_set():
            try:
                busy = self.run_once()
            except sa.exc.OperationalError as exc:
                log.error("database unavailable, retrying: %s", exc)
                busy = 0
                self.stopping.wait(min(5.0, self.config.worker_poll_seconds * 5))
            except Exception:
                # A bug must not stop every partner's deliveries: log it and go on.
                log.exception("worker pass failed")
                busy = 0
                self.stopping.wait(min(5.0, self.config.worker_poll_seconds * 5))
            if not busy:
                self.stopping.wait(self.config.worker_poll_seconds)
        self.pool.shutdown(wait=True)
        log.info("worker %s stopped", self.name)

    def stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        self.stopping.set()


def _without_query(url: str) -> str:
    """A webhook URL for the log: its query string may carry a partner's token."""
    return urlsplit(url)._replace(query="", fragment="").geturl()


def run_worker(config: Config, once: bool = False, metrics_port: int | None = None) -> int:
    configure_logging(config)
    services = bootstrap(config, pool_size=config.worker_concurrency + 2)
    worker = Worker(services)
    if once:
        return worker.run_once()
    if metrics_port:
        metrics.serve_worker_metrics(metrics_port, services.uow, services.clock)
        log.info("worker metrics on http://127.0.0.1:%d/metrics", metrics_port)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    worker.run()
    return 0
