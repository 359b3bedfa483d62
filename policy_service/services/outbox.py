"""The outbox: events are written in the transaction of the change they report, and so is
their fan-out: one delivery for each enabled webhook endpoint of the partner and mode that
wants the event, as the endpoints stand at that commit. An endpoint created later never
receives earlier events; a delivery is due the moment its event commits."""

from __future__ import annotations

from policy_service.adapters.events_repo import NewEvent
from policy_service.domain.webhooks import wants

from .unit_of_work import Tx
from .webhooks import new_delivery


def record_events(tx: Tx, new: list[NewEvent]) -> None:
    if not new:
        return
    tx.events.insert_many(new, dispatched=True)
    endpoints = tx.webhooks.enabled_endpoints_of({(e.partner_id, e.livemode) for e in new})
    if not endpoints:
        return
    tx.webhooks.insert_deliveries(
        [
            new_delivery(event, endpoint.id, event.created_at)
            for event in new
            for endpoint in endpoints
            if (endpoint.partner_id, endpoint.livemode) == (event.partner_id, event.livemode)
            and wants(endpoint.events, event.type)
        ]
    )
