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

import sqlalchemy as sa

from .adapters.webhook_sender import WebhookSender
from .api import render
from .config import Config
from .services import delivery, payments, payouts
from .services.catalog import ProductCatalog
from .services.claims import claims_context

log = logging.getLogger("policy_service.worker")

EXPIRY_EVERY_SECONDS = 30.0
RECONCILE_EVERY_SECONDS = 5.0


class Worker:
    def __init__(
        self, config: Config, engine: sa.Engine, catalog: ProductCatalog, name: str | None = None
    ) -> None:
        self.config = config
        self.engine = engine
        self.catalog = catalog
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.sender = WebhookSender(config.webhook_timeout_seconds)
        # A send ends at its hard deadline; the lease must outlast it and the recording.
        if config.webhook_lease_seconds < 2 * config.webhook_timeout_seconds + 5:
            self.config = config.with_(webhook_lease_seconds=2 * config.webhook_timeout_seconds + 5)
        self.pool = ThreadPoolExecutor(max_workers=max(config.worker_concurrency, 1))
        self.stopping = threading.Event()
        self._next_expiry = 0.0
        self._next_reconcile = 0.0
        from . import stripe_gateway
        from .api.errors import error_body

        self.billing = payments.Billing(
            engine,
            stripe_gateway(config),
            lambda p: render.policy(p, self.catalog.edition(p.product_code, p.edition)),
            error_body,
            config.settlement_timezone,
        )

        self.claims = claims_context(
            config,
            engine,
            catalog,
            render.claim,
            lambda p: render.policy(p, self.catalog.edition(p.product_code, p.edition)),
        )

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    def run_once(self) -> int:
        """One pass; returns how much work it found (0: idle)."""
        done = delivery.dispatch_events(self.engine, self.now())
        if time.monotonic() >= self._next_expiry:
            self._next_expiry = time.monotonic() + EXPIRY_EVERY_SECONDS
            self.catalog.maybe_reload()
            cutoff = self.now() - timedelta(hours=self.config.idempotency_ttl_hours)
            done += delivery.purge_idempotency_keys(self.engine, cutoff)
            done += delivery.expire_policies(
                self.engine,
                self.now(),
                lambda p: render.policy(p, self.catalog.edition(p.product_code, p.edition)),
            )
        if time.monotonic() >= self._next_reconcile:
            self._next_reconcile = time.monotonic() + RECONCILE_EVERY_SECONDS
            done += payments.reconcile(self.billing, self.now())
            done += payouts.send_pending(self.claims, self.billing.gateway, self.now())
        claimed = delivery.claim(
            self.engine,
            self.name,
            self.now(),
            timedelta(seconds=self.config.webhook_lease_seconds),
            self.config.worker_concurrency,
        )
        list(self.pool.map(self._deliver, claimed))
        return done + len(claimed)

    def _deliver(self, claimed: delivery.webhooks_repo.Claimed) -> None:
        # Test-mode endpoints may be on loopback (local development); live ones never.
        result = self.sender.send(
            claimed.url, delivery.body_of(claimed), claimed.secrets, not claimed.livemode
        )
        status = delivery.record(self.engine, claimed, result, self.now(), self.config)
        log.info(
            "%s %s -> %s attempt %d: %s",
            claimed.event_id,
            claimed.endpoint_id,
            claimed.url,
            claimed.number,
            "ok" if result.ok else f"{result.error} ({status})",
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


def run_worker(config: Config, once: bool = False) -> int:
    from .adapters.db import create_db_engine, upgrade

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    engine = create_db_engine(config.database_url, pool_size=config.worker_concurrency + 2)
    if config.is_sqlite:
        upgrade(engine)
    catalog = ProductCatalog(config.products_dir, engine, config.products_reload_seconds)
    catalog.reload()
    worker = Worker(config, engine, catalog)
    if once:
        return worker.run_once()
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    worker.run()
    return 0
