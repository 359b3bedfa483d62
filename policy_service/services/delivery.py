"""The worker's use cases: fan events out to endpoints, deliver them under a lease, record
every attempt, retry with back-off, give up after the retry window, disable endpoints that
keep failing, and expire policies whose cover has ended.

Delivery is at-least-once: a worker that dies after the receiver got the request but
before recording it leaves the delivery to be sent again when its lease expires.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from policy_service.adapters import events_repo, idempotency_repo, policies_repo, webhooks_repo
from policy_service.adapters.tables import policies
from policy_service.adapters.webhook_sender import SendResult
from policy_service.config import Config
from policy_service.domain.events import event_body, event_object
from policy_service.domain.ids import new_id
from policy_service.domain.lifecycle import policy_transition
from policy_service.domain.records import Policy
from policy_service.domain.webhooks import backoff, wants

from .webhooks import new_delivery

log = logging.getLogger(__name__)


def dispatch_events(engine: sa.Engine, now: datetime, limit: int = 500) -> int:
    """Create a delivery for every new event and every enabled endpoint that wants it."""
    with engine.begin() as conn:
        batch = events_repo.claim_undispatched(conn, limit)
        if not batch:
            return 0
        endpoints = webhooks_repo.enabled_endpoints_of(
            conn, {(e.partner_id, e.livemode) for e in batch}
        )
        rows = [
            new_delivery(event, endpoint.id, now)
            for event in batch
            for endpoint in endpoints
            if (endpoint.partner_id, endpoint.livemode) == (event.partner_id, event.livemode)
            and wants(endpoint.events, event.type)
        ]
        webhooks_repo.insert_deliveries(conn, rows)
        events_repo.mark_dispatched(conn, [e.id for e in batch], now)
    return len(batch)


def claim(
    engine: sa.Engine, worker: str, now: datetime, lease: timedelta, limit: int
) -> list[webhooks_repo.Claimed]:
    with engine.begin() as conn:
        return webhooks_repo.claim_due(conn, worker, now, now + lease, limit)


def body_of(claimed: webhooks_repo.Claimed) -> bytes:
    e = claimed.event
    return event_body(event_object(e["id"], e["type"], e["created"], e["livemode"], e["data"]))


def record(
    engine: sa.Engine,
    claimed: webhooks_repo.Claimed,
    result: SendResult,
    now: datetime,
    config: Config,
    rng: random.Random | None = None,
) -> str:
    """Write the attempt and move the delivery on; returns the delivery's new status."""
    with engine.begin() as conn:
        attempt: dict[str, Any] = {
            "finished_at": now,
            "latency_ms": result.latency_ms,
            "status_code": result.status_code,
            "error": result.error,
            "response_excerpt": result.excerpt,
            "outcome": "succeeded" if result.ok else "failed",
        }
        webhooks_repo.lock_delivery(conn, claimed.delivery_id)
        if result.ok:
            webhooks_repo.finish_attempt(conn, claimed.attempt_id, **attempt)
            webhooks_repo.mark_succeeded(conn, claimed, now)
            webhooks_repo.clear_failing(conn, claimed.endpoint_id)
            return "succeeded"
        # Retry until the window has passed; the last retry lands on its end, so every
        # delivery is tried for the whole window however the back-off falls.
        deadline = claimed.first_attempt_at + timedelta(hours=config.webhook_retry_hours)
        values: dict[str, Any]
        if now >= deadline:
            status, values = "failed", {"status": "failed", "next_attempt_at": None}
            attempt["next_retry_at"] = None
        else:
            delay = backoff(
                claimed.number,
                config.webhook_backoff_base_seconds,
                config.webhook_backoff_max_seconds,
                rng,
            )
            retry_at = min(now + delay, deadline)
            status, values = "pending", {"next_attempt_at": retry_at}
            attempt["next_retry_at"] = retry_at
        webhooks_repo.finish_attempt(conn, claimed.attempt_id, **attempt)
        webhooks_repo.settle_failure(conn, claimed, updated_at=now, **values)
        _note_failure(conn, claimed, now, config)
        return status


def _note_failure(
    conn: sa.Connection, claimed: webhooks_repo.Claimed, now: datetime, config: Config
) -> None:
    """An endpoint failing without a break for too long is disabled, with an event saying so."""
    endpoint = webhooks_repo.get_endpoint(
        conn, claimed.partner_id, claimed.livemode, claimed.endpoint_id, for_update=True
    )
    if endpoint is None or endpoint.status != "enabled":
        return
    since = endpoint.failing_since or now
    if endpoint.failing_since is None:
        webhooks_repo.update_endpoint(conn, endpoint.id, failing_since=now)
    if now - since < timedelta(hours=config.webhook_disable_after_hours):
        return
    reason = f"every delivery failed since {since.isoformat()}"
    webhooks_repo.update_endpoint(
        conn, endpoint.id, status="disabled", disabled_reason=reason, updated_at=now
    )
    webhooks_repo.pause_deliveries(conn, endpoint.id, now)
    log.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)
    data = {
        "id": endpoint.id,
        "object": "webhook_endpoint",
        "url": endpoint.url,
        "status": "disabled",
        "disabled_reason": reason,
        "livemode": endpoint.livemode,
    }
    events_repo.insert_many(
        conn,
        [
            events_repo.NewEvent(
                new_id("evt"),
                endpoint.partner_id,
                endpoint.livemode,
                "webhook_endpoint.disabled",
                "webhook_endpoint",
                endpoint.id,
                data,
                now,
            )
        ],
    )


def expire_policies(
    engine: sa.Engine, now: datetime, render: Callable[[Policy], dict[str, Any]], limit: int = 500
) -> int:
    """Active policies whose cover has ended become expired, each with its event."""
    with engine.begin() as conn:
        stmt = (
            sa.select(policies)
            .where(policies.c.status == "active", policies.c.coverage_end <= now)
            .order_by(policies.c.coverage_end)
            .limit(limit)
        )
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        due = [policies_repo.from_row(r) for r in conn.execute(stmt)]
        new_events = []
        for policy in due:
            status = policy_transition(policy.status, "expire").value
            conn.execute(
                policies.update()
                .where(policies.c.id == policy.id, policies.c.status == policy.status)
                .values(status=status, updated_at=now)
            )
            expired = replace(policy, status=status, updated_at=now)
            new_events.append(
                events_repo.NewEvent(
                    new_id("evt"),
                    policy.partner_id,
                    policy.livemode,
                    "policy.expired",
                    "policy",
                    policy.id,
                    json.loads(json.dumps(render(expired))),
                    now,
                )
            )
        policies_repo.release_covers(conn, [p.id for p in due])
        events_repo.insert_many(conn, new_events)
    return len(due)


def purge_idempotency_keys(engine: sa.Engine, cutoff: datetime) -> int:
    """Idempotency-Keys are remembered for IDEMPOTENCY_TTL_HOURS (24 h), then forgotten."""
    with engine.begin() as conn:
        return idempotency_repo.purge_before(conn, cutoff)
