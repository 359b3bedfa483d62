"""The one place where service errors get their HTTP status and their JSON shape:

{"error": {"type": "...", "code": "...", "message": "...", "param": "risk.order_value"}}

The API answers with it, the console shows the message with the status, the worker stores
it as a payment's answer.
"""

from __future__ import annotations

from typing import Any

from policy_service.domain import errors as e

#: most specific class first
STATUS: list[tuple[type[e.ServiceError], int]] = [
    (e.PayloadTooLarge, 413),
    (e.RateLimited, 429),
    (e.PaymentFailed, 402),
    (e.PaymentUnavailableError, 503),
    (e.InvalidRequest, 400),
    (e.Unauthenticated, 401),
    (e.PermissionDenied, 403),
    (e.NotFound, 404),
    (e.Conflict, 409),
    (e.BusinessRefusal, 422),
    (e.ProductDefect, 422),
    (e.ServiceUnavailable, 503),
    (e.ServiceError, 500),
]


def status_of(error: e.ServiceError) -> int:
    for cls, status in STATUS:
        if isinstance(error, cls):
            return status
    return 500  # pragma: no cover - ServiceError is last in the table


def error_body(error: e.ServiceError) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"type": error.type, "code": error.code, "message": error.message}
    if error.param:
        body["param"] = error.param
    body.update(error.details)
    return status_of(error), {"error": body}
