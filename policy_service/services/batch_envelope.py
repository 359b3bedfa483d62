"""A batch's own Idempotency-Key: its answer stored as the items' outcomes, each issued
policy by its id, and made into the batch's JSON again on a replay (services/issued.py).

A thousand-item batch answer is a few megabytes of policies that the policies table
already holds; stored whole it was a fourth copy of each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from policy_service.adapters.idempotency_repo import StoredResponse
from policy_service.domain.records import Caller

from . import issued
from .idempotency import Outcome, dumps, replay_stored
from .unit_of_work import Tx, UnitOfWork


@dataclass
class Envelope:
    """A batch's own Idempotency-Key: claimed in the same transaction as its items, so a
    concurrent retry waits and replays instead of racing the items."""

    key: str
    fingerprint: str
    #: the batch's answer from its items' outcomes
    render: Callable[[list[Outcome]], tuple[int, dict[str, Any]]]


def stored_text(outcomes: list[Outcome]) -> str:
    """What the key keeps: per item its status, whether it was a replay, and the policy it
    issued (its id) or the body it answered."""
    return dumps(
        [
            {"status": o.status, "replayed": o.replayed, "policy": o.policy.id}
            if o.policy is not None and o.status == 201 and not o.replayed
            else {"status": o.status, "replayed": o.replayed, "body": o.body}
            for o in outcomes
        ]
    )


def replay(
    tx: Tx, record: StoredResponse, envelope: Envelope, render_policy: issued.RenderPolicy
) -> Outcome:
    """The batch's stored answer (IdempotencyError for another body under its key)."""
    answer = replay_stored(record, envelope.fingerprint)
    kept = orjson.loads(answer.body)
    if isinstance(kept, dict):  # stored whole, before outcomes were stored instead
        return answer
    made = issued.issued_json(tx, {k["policy"] for k in kept if "policy" in k}, render_policy)
    outcomes = [
        Outcome(
            k["status"],
            dumps(made.get(k["policy"]) or issued.gone(k["policy"]))
            if "policy" in k
            else k["body"],
            k["replayed"],
        )
        for k in kept
    ]
    status, body = envelope.render(outcomes)
    return Outcome(status, dumps(body), replayed=True)


def replayed(
    uow: UnitOfWork, caller: Caller, envelope: Envelope, render_policy: issued.RenderPolicy
) -> Outcome | None:
    """The stored answer of a batch sent again with its key, or None for a new batch."""
    with uow.read() as tx:
        record = tx.idempotency.fetch_many(caller.partner_id, caller.livemode, [envelope.key])
        if envelope.key not in record:
            return None
        return replay(tx, record[envelope.key], envelope, render_policy)
