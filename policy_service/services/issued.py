"""A policy as it was issued, made again from its row instead of kept as copies.

Issuing writes a policy once. Its answer under an Idempotency-Key names it (AsIssued)
and its policy.issued event carries no data; a replay, the events API, the console and
a webhook make the policy's JSON as issued when they need it: the row with what changed
since (a cancellation, an expiry) taken off, the worksheet given again by the pinned
edition (services/policies.completed). So a policy costs one copy of its JSON in the
database, not three. An endorsed policy's row holds its latest version; its first
endorsement keeps what it was when issued.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from policy_service.adapters.idempotency_repo import StoredResponse
from policy_service.domain.records import Policy, as_issued

from .idempotency import dumps
from .unit_of_work import Tx

#: a policy's JSON (the renderer of the composition root, which completes the worksheet)
RenderPolicy = Callable[[Policy], dict[str, Any]]


def issued_json(tx: Tx, policy_ids: set[str], render: RenderPolicy) -> dict[str, dict[str, Any]]:
    """Each policy's JSON as issued, by id (ids not found are left out); an endorsed
    one's as its first endorsement found it."""
    found = tx.policies.many(policy_ids)
    endorsed = {pid for pid, p in found.items() if p.version > 1}
    firsts = tx.endorsements.firsts(endorsed) if endorsed else {}
    return {pid: render(as_issued(p, firsts.get(pid))) for pid, p in found.items()}


def gone(policy_id: str) -> dict[str, Any]:
    # Policies are never deleted today; should one be (an erasure), what named it says so
    # rather than fail.
    return {"id": policy_id, "object": "policy", "deleted": True}


def answers(
    tx: Tx, stored: dict[str, StoredResponse], render: RenderPolicy
) -> dict[str, StoredResponse]:
    """The stored answers, each one kept as a policy made into that policy's JSON."""
    wanted = {r.policy_id for r in stored.values() if r.body is None and r.policy_id}
    if not wanted:
        return stored
    made = issued_json(tx, wanted, render)
    out = dict(stored)
    for key, record in stored.items():
        if record.body is None and record.policy_id in made:
            out[key] = replace(record, body=dumps(made[record.policy_id]))
    return out


@dataclass(frozen=True)
class EventView:
    """An event as read: its data made again when it was a policy as issued."""

    id: str
    type: str
    created_at: datetime
    livemode: bool
    object_type: str
    object_id: str
    data: dict[str, Any]


def event_views(tx: Tx, rows: list[Any], render: RenderPolicy) -> list[EventView]:
    made = issued_json(tx, {r.object_id for r in rows if r.data is None}, render)
    return [
        EventView(
            r.id,
            r.type,
            r.created_at,
            r.livemode,
            r.object_type,
            r.object_id,
            r.data if r.data is not None else made.get(r.object_id) or gone(r.object_id),
        )
        for r in rows
    ]


def fill_events(tx: Tx, events: list[dict[str, Any]], render: RenderPolicy) -> None:
    """Events being delivered ({"data": None, "object_id": ...}): their data made."""
    made = issued_json(tx, {e["object_id"] for e in events if e["data"] is None}, render)
    for e in events:
        if e["data"] is None:
            e["data"] = made.get(e["object_id"]) or gone(e["object_id"])
