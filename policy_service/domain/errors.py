"""One error hierarchy for the whole service; the API maps it to HTTP in one place (api/errors.py)."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base of every error a caller may see. `type` and `code` are stable API strings."""

    type = "api_error"
    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param
        self.details = details or {}

    @property
    def described(self) -> str:
        """The message, after the field it is about (for people: console, CLI)."""
        return f"{self.param}: {self.message}" if self.param else self.message


class InvalidRequest(ServiceError):
    """Malformed or invalid input (HTTP 400)."""

    type = "invalid_request"
    code = "invalid_request"


class Unauthenticated(ServiceError):
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(ServiceError):
    type = "permission_error"
    code = "insufficient_scope"


class NotFound(ServiceError):
    type = "invalid_request"
    code = "resource_missing"


class Conflict(ServiceError):
    """The request conflicts with the current state (HTTP 409)."""

    type = "conflict"
    code = "conflict"


class IdempotencyError(InvalidRequest):
    """The Idempotency-Key was first used with another request (HTTP 400, as Stripe does)."""

    type = "idempotency_error"
    code = "idempotency_key_reused"


class BusinessRefusal(ServiceError):
    """Valid input that the product or the rules refuse (HTTP 422)."""

    type = "refused"
    code = "refused"


class PayloadTooLarge(ServiceError):
    type = "invalid_request"
    code = "payload_too_large"


class InvalidTransition(Conflict):
    """A lifecycle transition that the transition table does not allow."""

    code = "invalid_state_transition"


class ProductDefect(ServiceError):
    """A valid request the product's own rules could not evaluate (a defect of the product's
    files, logged for its team): refused with HTTP 422, and nothing changes."""

    type = "refused"
    code = "product_evaluation_failed"


class RateLimited(ServiceError):
    """Too many requests for the key's rate limit (HTTP 429); `retry_after` seconds."""

    type = "rate_limit_error"
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServiceUnavailable(ServiceError):
    """A dependency (the database) is unreachable or overloaded; safe to retry (HTTP 503)."""

    type = "api_error"
    code = "service_unavailable"


class PaymentFailed(ServiceError):
    """The payment method was declined (HTTP 402); `decline_code` says why."""

    type = "card_error"
    code = "card_declined"


class PaymentUnavailableError(ServiceError):
    """The payment API did not answer: nothing is final; retry with the same Idempotency-Key."""

    type = "api_error"
    code = "payment_service_unavailable"
