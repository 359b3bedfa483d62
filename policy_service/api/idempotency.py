"""Idempotency-Key for POSTs other than issuing (issuing does it per item, see services.policies).

The response is stored in the same transaction as the change. A replay of the same key
and body returns the stored status and body; another body with that key is refused.
If two requests race, the second one's insert of the key waits for the first to commit,
then its own transaction is rolled back and the first one's response is replayed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Response, request

from policy_service.adapters import idempotency_repo
from policy_service.domain.errors import BusinessRefusal, Conflict, InvalidRequest, ServiceError
from policy_service.domain.records import Caller
from policy_service.services.policies import Outcome, dumps, fingerprint, replay_stored

from .context import services
from .errors import error_body

HEADER = "Idempotency-Key"


class _Taken(Exception):
    """Our key was committed by a concurrent request: roll back and replay."""


def idempotency_key() -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not key.strip() or len(key) > 255:
        raise InvalidRequest("must be 1 to 255 characters", param=HEADER)
    return key


def request_fingerprint() -> str:
    return fingerprint(request.method, request.path, request.get_json(silent=True))


def ok(body: dict[str, Any], status: int = 200) -> Response:
    """A JSON response rendered by api.render (the schemas document it; a test checks it)."""
    return json_response(Outcome(status, dumps(body)))


def json_response(outcome: Outcome) -> Response:
    response = Response(outcome.body, status=outcome.status, mimetype="application/json")
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def run_idempotent(
    caller: Caller, work: Callable[[sa.Connection], tuple[int, dict[str, Any]]]
) -> Response:
    """Run `work` in one transaction, remembering its response under the Idempotency-Key."""
    engine = services().engine
    key = idempotency_key()
    if key is None:
        with engine.begin() as conn:
            status, body = work(conn)
        return json_response(Outcome(status, dumps(body)))
    fp = request_fingerprint()
    stored = stored_response(caller, key)
    if stored is not None:
        return json_response(replay_stored(stored, fp))
    now = services().clock()
    try:
        with engine.begin() as conn:
            status, body = work(conn)
            text = dumps(body)
            if not idempotency_repo.claim_many(
                conn, caller.partner_id, caller.livemode, [(key, fp, status, text)], now
            ):
                raise _Taken
        return json_response(Outcome(status, text))
    except _Taken:
        pass
    except (Conflict, BusinessRefusal) as err:
        # A business outcome is remembered too, so a retry gets the same answer.
        status, body = error_body(err)
        with engine.begin() as conn:
            mine = idempotency_repo.claim_many(
                conn, caller.partner_id, caller.livemode, [(key, fp, status, dumps(body))], now
            )
        if mine:
            raise
    stored = stored_response(caller, key)
    if stored is None:  # pragma: no cover - the other request's row is committed by now
        raise ServiceError("idempotency record vanished; retry")
    return json_response(replay_stored(stored, fp))


def stored_response(caller: Caller, key: str) -> idempotency_repo.StoredResponse | None:
    with services().engine.connect() as conn:
        return idempotency_repo.fetch_many(conn, caller.partner_id, caller.livemode, [key]).get(key)
