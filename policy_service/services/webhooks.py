"""Webhook endpoints (self-serve), events and their deliveries, as partners see them."""

from __future__ import annotations

import secrets as random_secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from policy_service.adapters.webhook_sender import target_refusal
from policy_service.domain.errors import InvalidRequest, NotFound
from policy_service.domain.ids import has_prefix, new_id
from policy_service.domain.records import Caller
from policy_service.domain.webhooks import check_event_types, check_url, wants

from .issued import EventView, RenderPolicy, event_views
from .unit_of_work import Tx, UnitOfWork

#: how long a rotated-out secret keeps signing, so receivers can switch without losing events
PREVIOUS_SECRET_VALID = timedelta(hours=24)


def new_secret() -> str:
    return "whsec_" + random_secrets.token_urlsafe(32)


def _check_target(caller: Caller, url: str) -> None:
    """Live mode posts only to public addresses; test mode also to loopback, for local work.
    The host is read by the rules of every delivery (webhook_sender.target_refusal): a live
    endpoint's name is resolved now, a test one's address read in any spelling (its name
    is checked at each delivery)."""
    refusal = target_refusal(
        url, allow_loopback=not caller.livemode, numeric_only=not caller.livemode
    )
    if refusal is not None:
        where = "on the public internet" if caller.livemode else "public or on loopback"
        mode = "live" if caller.livemode else "test"
        raise InvalidRequest(f"{mode}-mode endpoints must be {where} ({refusal})", param="url")


def _description(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 500:
        raise InvalidRequest("must be text of at most 500 characters", param="description")
    return value


def create_endpoint(
    tx: Tx, caller: Caller, url: Any, events: Any, description: Any, now: datetime
) -> sa.Row[Any]:
    url = check_url(url)
    _check_target(caller, url)
    row = {
        "id": new_id("whe"),
        "partner_id": caller.partner_id,
        "livemode": caller.livemode,
        "url": url,
        "description": _description(description),
        "events": check_event_types(events),
        "status": "enabled",
        "secret": new_secret(),
        "created_at": now,
        "updated_at": now,
    }
    tx.webhooks.insert_endpoint(row)
    return _endpoint(tx, caller, row["id"])


def _endpoint(tx: Tx, caller: Caller, endpoint_id: str, for_update: bool = False) -> sa.Row[Any]:
    row = None
    if has_prefix(endpoint_id, "whe"):
        row = tx.webhooks.get_endpoint(caller.partner_id, caller.livemode, endpoint_id, for_update)
    if row is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    return row


def update_endpoint(
    tx: Tx, caller: Caller, endpoint_id: str, changes: dict[str, Any], now: datetime
) -> sa.Row[Any]:
    _endpoint(tx, caller, endpoint_id, for_update=True)
    values: dict[str, Any] = {"updated_at": now}
    if "url" in changes:
        values["url"] = check_url(changes["url"])
        _check_target(caller, values["url"])
    if "events" in changes:
        values["events"] = check_event_types(changes["events"])
    if "description" in changes:
        values["description"] = _description(changes["description"])
    if "disabled" in changes:
        if not isinstance(changes["disabled"], bool):
            raise InvalidRequest("must be true or false", param="disabled")
        if changes["disabled"]:
            values.update(status="disabled", disabled_reason="disabled by the partner")
            tx.webhooks.pause_deliveries(endpoint_id, now)
        else:
            # Re-enabling starts a new failure count; paused deliveries resume now.
            values.update(status="enabled", disabled_reason=None, failing_since=None)
            tx.webhooks.resume_deliveries(endpoint_id, now)
    tx.webhooks.update_endpoint(endpoint_id, **values)
    return _endpoint(tx, caller, endpoint_id)


def delete_endpoint(
    uow: UnitOfWork, caller: Caller, endpoint_id: str, now: datetime
) -> sa.Row[Any]:
    with uow.write() as tx:
        row = _endpoint(tx, caller, endpoint_id, for_update=True)
        # Kept (soft-deleted) so that its delivery log stays readable.
        tx.webhooks.update_endpoint(endpoint_id, deleted_at=now, status="disabled", updated_at=now)
        tx.webhooks.drop_deliveries(endpoint_id, now)
        return row


def rotate_secret(tx: Tx, caller: Caller, endpoint_id: str, now: datetime) -> sa.Row[Any]:
    row = _endpoint(tx, caller, endpoint_id, for_update=True)
    tx.webhooks.update_endpoint(
        endpoint_id,
        secret=new_secret(),
        previous_secret=row.secret,
        previous_secret_expires_at=now + PREVIOUS_SECRET_VALID,
        updated_at=now,
    )
    return _endpoint(tx, caller, endpoint_id)


def get_endpoint(uow: UnitOfWork, caller: Caller, endpoint_id: str) -> sa.Row[Any]:
    with uow.read() as tx:
        return _endpoint(tx, caller, endpoint_id)


def list_endpoints(
    uow: UnitOfWork, caller: Caller, limit: int, starting_after: str | None
) -> tuple[list[sa.Row[Any]], bool]:
    with uow.read() as tx:
        return tx.webhooks.list_endpoints(caller.partner_id, caller.livemode, limit, starting_after)


# -- events ------------------------------------------------------------------------------------


def _event(tx: Tx, caller: Caller, event_id: str) -> sa.Row[Any]:
    row = None
    if has_prefix(event_id, "evt"):
        row = tx.events.get(caller.partner_id, caller.livemode, event_id)
    if row is None:
        raise NotFound(f"no event {event_id}")
    return row


def get_event(
    uow: UnitOfWork, caller: Caller, event_id: str, render_policy: RenderPolicy
) -> EventView:
    """An event with its data (a policy as issued made from the policy's row)."""
    with uow.read() as tx:
        return event_views(tx, [_event(tx, caller, event_id)], render_policy)[0]


def list_events(
    uow: UnitOfWork,
    caller: Caller,
    limit: int,
    starting_after: str | None,
    types: list[str] | None,
    object_id: str | None,
    render_policy: RenderPolicy,
) -> tuple[list[EventView], bool]:
    with uow.read() as tx:
        rows, has_more = tx.events.list_page(
            caller.partner_id, caller.livemode, limit, starting_after, types, object_id
        )
        return event_views(tx, rows, render_policy), has_more


@dataclass(frozen=True)
class DeliveryView:
    delivery: sa.Row[Any]
    attempts: list[sa.Row[Any]]


def deliveries(uow: UnitOfWork, caller: Caller, event_id: str) -> list[DeliveryView]:
    """The webhook deliveries of an event, with every attempt."""
    with uow.read() as tx:
        return _deliveries(tx, caller, event_id)


def _deliveries(tx: Tx, caller: Caller, event_id: str) -> list[DeliveryView]:
    _event(tx, caller, event_id)
    rows = tx.webhooks.deliveries_of_events([event_id])[event_id]
    attempts = tx.webhooks.attempts_of([r.id for r in rows])
    return [DeliveryView(r, attempts[r.id]) for r in rows]


def resend(
    tx: Tx, caller: Caller, event_id: str, endpoint_id: Any, now: datetime
) -> list[DeliveryView]:
    """Deliver the event again now, to one endpoint or to every enabled endpoint that wants it."""
    event = _event(tx, caller, event_id)
    if endpoint_id is not None:
        if not isinstance(endpoint_id, str):
            raise InvalidRequest("must be a webhook endpoint id", param="endpoint")
        targets = [_endpoint(tx, caller, endpoint_id)]
        if targets[0].status != "enabled":
            raise InvalidRequest("the endpoint is disabled; enable it first", param="endpoint")
    else:
        targets = [
            e
            for e in tx.webhooks.enabled_endpoints_of({(caller.partner_id, caller.livemode)})
            if wants(e.events, event.type)
        ]
        if not targets:
            raise InvalidRequest(
                "no enabled endpoint subscribes to this event type", param="endpoint"
            )
    for target in targets:
        existing = tx.webhooks.get_delivery_for(event_id, target.id)
        if existing is None:
            tx.webhooks.insert_deliveries([new_delivery(event, target.id, now)])
        else:
            tx.webhooks.reset_delivery(existing.id, now)
    wanted = {t.id for t in targets}
    return [d for d in _deliveries(tx, caller, event_id) if d.delivery.endpoint_id in wanted]


def new_delivery(event: Any, endpoint_id: str, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id("wdl"),
        "partner_id": event.partner_id,
        "livemode": event.livemode,
        "event_id": event.id,
        "endpoint_id": endpoint_id,
        "status": "pending",
        "attempt_count": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }
