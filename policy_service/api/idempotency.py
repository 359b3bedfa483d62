"""The Idempotency-Key header on POSTs; the rule itself is services/idempotency.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Response, request

from policy_service.domain.errors import InvalidRequest
from policy_service.domain.records import Caller
from policy_service.presentation import api_language
from policy_service.presentation.errors import error_body
from policy_service.services import idempotency
from policy_service.services.idempotency import Outcome, dumps, fingerprint
from policy_service.services.unit_of_work import Tx

from .context import services
from .errors import in_language

HEADER = "Idempotency-Key"


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
    """A JSON response rendered by presentation.render (the schemas document it; a test checks it)."""
    return json_response(Outcome(status, dumps(body)))


def json_response(outcome: Outcome) -> Response:
    body = outcome.body
    # stored in English; answered in the caller's language (parsed only when it is not)
    if outcome.status >= 400 and api_language.chosen(request.accept_languages) != "en":
        body = json.dumps(in_language(json.loads(body)), ensure_ascii=False)
    response = Response(body, status=outcome.status, mimetype="application/json")
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def run_idempotent(
    caller: Caller,
    work: Callable[[Tx], tuple[int, dict[str, Any]]],
    stored_as: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Response:
    """`work` in one unit of work, its answer remembered under the request's Idempotency-Key
    (as `stored_as` makes it, when given: a replay answers that)."""
    svc = services()
    outcome = idempotency.run_idempotent(
        svc.uow,
        caller,
        idempotency_key(),
        request_fingerprint(),
        svc.clock(),
        work,
        error_body,
        stored_as,
    )
    return json_response(outcome)
