"""Idempotency-Key: a request sent again with the same key gets the first answer.

The answer is stored in the same transaction as the change it reports. A replay of the
same key and body returns the stored status and body (Idempotent-Replayed); another body
with that key is refused. Business outcomes (409, 422) are remembered; invalid requests
(400) are not, so a fixed request may reuse the key. If two requests race, the second's
insert of the key waits for the first to commit; its own transaction is then rolled back
and the first one's answer replayed. Issuing policies does this per item
(services/issuing.py); every other POST goes through run_idempotent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from policy_service.adapters.idempotency_repo import StoredResponse
from policy_service.domain.errors import BusinessRefusal, Conflict, IdempotencyError, ServiceError
from policy_service.domain.records import Caller, Policy

from .unit_of_work import Tx, UnitOfWork

#: (status, JSON-able body) of an error
RenderError = Callable[[ServiceError], tuple[int, dict[str, Any]]]


@dataclass
class Outcome:
    status: int
    body: str  # JSON text, exactly what was (or will be) replayed
    replayed: bool = False
    policy: Policy | None = field(default=None, repr=False)


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def dumps(body: Any) -> str:
    """Compact JSON, non-ASCII as is (orjson: a response body is encoded on every request)."""
    return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS).decode()


def replay_stored(record: StoredResponse, fp: str | None) -> Outcome:
    """The stored answer again, its body made beforehand if it was a policy as issued
    (services/issued.answers)."""
    if record.fingerprint != fp:
        raise IdempotencyError(
            "this Idempotency-Key was already used with a different request; "
            "use a new key for a new request",
        )
    if record.body is None:  # the policy it named is gone: it never is, but say so
        raise ServiceError(
            f"the answer stored under this key names policy {record.policy_id}, which was not found"
        )
    return Outcome(record.status_code, record.body, replayed=True)


def stored_response(uow: UnitOfWork, caller: Caller, key: str) -> StoredResponse | None:
    with uow.read() as tx:
        return tx.idempotency.fetch_many(caller.partner_id, caller.livemode, [key]).get(key)


class _Taken(Exception):
    """Our key was committed by a concurrent request: roll back and replay."""


def run_idempotent(
    uow: UnitOfWork,
    caller: Caller,
    key: str | None,
    fp: str,
    now: datetime,
    work: Callable[[Tx], tuple[int, dict[str, Any]]],
    render_error: RenderError,
    stored_as: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Outcome:
    """Run `work` in one transaction, remembering its answer under `key` (if any); with
    `stored_as`, what a replay answers instead (an answer without its secret)."""
    if key is None:
        with uow.write() as tx:
            status, body = work(tx)
        return Outcome(status, dumps(body))
    stored = stored_response(uow, caller, key)
    if stored is not None:
        return replay_stored(stored, fp)
    try:
        with uow.write() as tx:
            status, body = work(tx)
            text = dumps(body)
            kept = text if stored_as is None else dumps(stored_as(body))
            if not tx.idempotency.claim_many(
                caller.partner_id, caller.livemode, [(key, fp, status, kept)], now
            ):
                raise _Taken
        return Outcome(status, text)
    except _Taken:
        pass
    except (Conflict, BusinessRefusal) as err:
        # A business outcome is remembered too, so a retry gets the same answer.
        status, body = render_error(err)
        with uow.write() as tx:
            mine = tx.idempotency.claim_many(
                caller.partner_id, caller.livemode, [(key, fp, status, dumps(body))], now
            )
        if mine:
            raise
    stored = stored_response(uow, caller, key)
    if stored is None:  # pragma: no cover - the other request's row is committed by now
        raise ServiceError("idempotency record vanished; retry")
    return replay_stored(stored, fp)
