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

from policy_service.adapters import events_repo, webhooks_repo
from policy_service.adapters.webhook_sender import SendResult
from policy_service.config import Config
from policy_service.domain.events import event_body, event_object
from policy_service.domain.ids import new_id
from policy_service.domain.lifecycle import policy_transition
from policy_service.domain.records import Policy
from policy_service.domain.webhooks import backoff, wants

from .issued import RenderPolicy, fill_events
from .outbox import record_events
from .unit_of_work import Tx, UnitOfWork
from .webhooks import new_delivery

log = logging.getLogger(__name__)


def dispatch_events(uow: UnitOfWork, now: datetime, limit: int = 500) -> int:
    """Create a delivery for every new event and every enabled endpoint that wants it and
    existed when the event happened: an endpoint created later never receives earlier
    events, however long they waited to be fanned out."""
    with uow.write() as tx:
        batch = tx.events.claim_undispatched(limit)
        if not batch:
            return 0
        endpoints = tx.webhooks.enabled_endpoints_of({(e.partner_id, e.livemode) for e in batch})
        rows = [
            new_delivery(event, endpoint.id, now)
            for event in batch
            for endpoint in endpoints
            if (endpoint.partner_id, endpoint.livemode) == (event.partner_id, event.livemode)
            and endpoint.created_at <= event.created_at
            and wants(endpoint.events, event.type)
        ]
        tx.webhooks.insert_deliveries(rows)
        tx.events.mark_dispatched([e.id for e in batch], now)
    return len(batch)


def claim(
    uow: UnitOfWork,
    worker: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    render_policy: RenderPolicy,
) -> list[webhooks_repo.Claimed]:
    """Deliveries due, under this worker's lease, each with its event's data (a policy as
    issued made from the policy's row)."""
    with uow.write() as tx:
        claimed = tx.webhooks.claim_due(worker, now, now + lease, limit)
        fill_events(tx, [c.event for c in claimed], render_policy)
        return claimed


def body_of(claimed: webhooks_repo.Claimed) -> bytes:
    e = claimed.event
    return event_body(event_object(e["id"], e["type"], e["created"], e["livemode"], e["data"]))


def record(
    uow: UnitOfWork,
    claimed: webhooks_repo.Claimed,
    result: SendResult,
    now: datetime,
    config: Config,
    rng: random.Random | None = None,
) -> str:
    """Write the attempt and move the delivery on; returns the delivery's new status."""
    return record_all(uow, [(claimed, result)], now, config, rng)[0]


def record_all(
    uow: UnitOfWork,
    outcomes: list[tuple[webhooks_repo.Claimed, SendResult]],
    now: datetime,
    config: Config,
    rng: random.Random | None = None,
) -> list[str]:
    """Write a claimed batch's attempts and move its deliveries on, in one transaction (a
    commit per delivery was most of a worker's time); returns each delivery's new status."""
    if not outcomes:
        return []
    with uow.write() as tx:
        # Lock order for every writer: the deliveries (by id), then their attempts, then
        # endpoints; sorted, two batches never wait on each other in a circle.
        tx.webhooks.lock_deliveries(sorted(c.delivery_id for c, _ in outcomes))
        tx.webhooks.lock_endpoints(sorted({c.endpoint_id for c, _ in outcomes}))
        succeeded = [(c, r) for c, r in outcomes if r.ok]
        tx.webhooks.finish_attempts(
            [(c.attempt_id, _attempt(r, now, "succeeded")) for c, r in succeeded]
        )
        tx.webhooks.mark_all_succeeded([c for c, _ in succeeded], now)
        tx.webhooks.clear_failing_of({c.endpoint_id for c, _ in succeeded})
        failures = {
            c.delivery_id: _record_failure(tx, c, r, now, config, rng)
            for c, r in sorted(outcomes, key=lambda o: o[0].delivery_id)
            if not r.ok
        }
    return [failures.get(c.delivery_id, "succeeded") for c, _ in outcomes]


def _attempt(result: SendResult, now: datetime, outcome: str) -> dict[str, Any]:
    return {
        "finished_at": now,
        "latency_ms": result.latency_ms,
        "status_code": result.status_code,
        "error": result.error,
        "response_excerpt": result.excerpt,
        "outcome": outcome,
    }


def _record_failure(
    tx: Tx,
    claimed: webhooks_repo.Claimed,
    result: SendResult,
    now: datetime,
    config: Config,
    rng: random.Random | None,
) -> str:
    # Retry until the window has passed; the last retry lands on its end, so every
    # delivery is tried for the whole window however the back-off falls.
    attempt = _attempt(result, now, "failed")
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
    tx.webhooks.finish_attempt(claimed.attempt_id, **attempt)
    tx.webhooks.settle_failure(claimed, updated_at=now, **values)
    _note_failure(tx, claimed, now, config)
    return status


def _note_failure(tx: Tx, claimed: webhooks_repo.Claimed, now: datetime, config: Config) -> None:
    """An endpoint failing without a break for too long is disabled, with an event saying so."""
    endpoint = tx.webhooks.get_endpoint(
        claimed.partner_id, claimed.livemode, claimed.endpoint_id, for_update=True
    )
    if endpoint is None or endpoint.status != "enabled":
        return
    since = endpoint.failing_since or now
    if endpoint.failing_since is None:
        tx.webhooks.update_endpoint(endpoint.id, failing_since=now)
    if now - since < timedelta(hours=config.webhook_disable_after_hours):
        return
    reason = f"every delivery failed since {since.isoformat()}"
    tx.webhooks.update_endpoint(
        endpoint.id, status="disabled", disabled_reason=reason, updated_at=now
    )
    tx.webhooks.pause_deliveries(endpoint.id, now)
    log.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)
    data = {
        "id": endpoint.id,
        "object": "webhook_endpoint",
        "url": endpoint.url,
        "status": "disabled",
        "disabled_reason": reason,
        "livemode": endpoint.livemode,
    }
    record_events(
        tx,
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
    uow: UnitOfWork, now: datetime, render: Callable[[Policy], dict[str, Any]], limit: int = 500
) -> int:
    """Active policies whose cover has ended become expired, each with its event."""
    with uow.write() as tx:
        due = tx.policies.due_for_expiry(now, limit)
        new_events = []
        for policy in due:
            status = policy_transition(policy.status, "expire").value
            tx.policies.set_status(policy.id, policy.status, status, updated_at=now)
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
        tx.policies.release_covers([p.id for p in due])
        record_events(tx, new_events)
    return len(due)


def purge_idempotency_keys(uow: UnitOfWork, cutoff: datetime) -> int:
    """Idempotency-Keys are remembered for IDEMPOTENCY_TTL_HOURS (24 h), then forgotten."""
    with uow.write() as tx:
        return tx.idempotency.purge_before(cutoff)
