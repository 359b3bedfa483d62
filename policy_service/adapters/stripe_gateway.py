"""The Stripe-compatible payment API over `requests`, as Stripe documents it: form-encoded
bodies, Bearer secret key, an Idempotency-Key on every POST, timeouts, and retries of
network failures with the same key. STRIPE_API_BASE points it at Stripe or at a peer."""

from __future__ import annotations

import logging
import time
from typing import Any

import requests

from . import metrics

log = logging.getLogger(__name__)


class PaymentError(Exception):
    """Base of what the gateway raises."""


class PaymentDeclined(PaymentError):
    """The card was declined (HTTP 402): final for this payment."""

    def __init__(self, message: str, code: str, decline_code: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.decline_code = decline_code


class PaymentRejected(PaymentError):
    """The request was refused (4xx other than 402), e.g. an unknown payment method."""

    def __init__(self, message: str, status: int, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param


class PaymentUnavailable(PaymentError):
    """No answer, a timeout, or a 5xx: the outcome is unknown; retry with the same key."""


def _operation(path: str) -> str:
    """/v1/payment_intents/pi_123/confirm -> /v1/payment_intents/{id}/confirm (few labels)."""
    return "/".join(
        "{id}" if "_" in part and part[:3] in ("pi_", "re_", "cus", "pm_") else part
        for part in path.split("?")[0].split("/")
    )


def _form(data: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's form encoding of nested objects: metadata[policy]=pol_..."""
    out: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}[{key}]" if prefix else key
        if value is None:
            continue
        if isinstance(value, dict):
            out.extend(_form(value, name))
        elif isinstance(value, bool):
            out.append((name, "true" if value else "false"))
        else:
            out.append((name, str(value)))
    return out


class StripeGateway:
    def __init__(
        self, api_key: str, base_url: str, timeout_seconds: float = 10.0, retries: int = 2
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout_seconds
        self.retries = retries
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {api_key}"
        self.session.headers["Stripe-Version"] = "2024-06-20"
        self.session.trust_env = False

    # -- HTTP --------------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        data: dict[str, Any] | None,
        key: str | None,
        retries: int | None = None,
    ) -> dict[str, Any]:
        operation = f"{method} {_operation(path)}"
        try:
            answer = self._send(method, path, data, key, retries)
        except PaymentUnavailable:
            metrics.PAYMENT_CALLS.labels(operation, "unavailable").inc()
            raise
        except PaymentError:
            metrics.PAYMENT_CALLS.labels(operation, "refused").inc()
            raise
        metrics.PAYMENT_CALLS.labels(operation, "ok").inc()
        return answer

    def _send(
        self,
        method: str,
        path: str,
        data: dict[str, Any] | None,
        key: str | None,
        retries: int | None,
    ) -> dict[str, Any]:
        headers = {"Idempotency-Key": key} if key else {}
        retries = self.retries if retries is None else retries
        for attempt in range(retries + 1):
            try:
                response = self.session.request(
                    method,
                    self.base_url + path,
                    data=_form(data or {}) if method == "POST" else None,
                    headers=headers,
                    timeout=(min(self.timeout, 5.0), self.timeout),
                    allow_redirects=False,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                # Safe to send again: the same Idempotency-Key makes Stripe answer the same.
                if attempt == retries:
                    raise PaymentUnavailable(
                        f"payment API unreachable: {type(exc).__name__}"
                    ) from None
                time.sleep(0.2 * (attempt + 1))
                continue
            if response.status_code >= 500:
                if attempt == retries:
                    raise PaymentUnavailable(f"payment API error HTTP {response.status_code}")
                time.sleep(0.2 * (attempt + 1))
                continue
            return self._answer(response)
        raise PaymentUnavailable("payment API unreachable")  # pragma: no cover

    @staticmethod
    def _answer(response: requests.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise PaymentUnavailable(
                f"payment API sent no JSON (HTTP {response.status_code})"
            ) from None
        if response.status_code < 300:
            return body
        error = body.get("error", {}) if isinstance(body, dict) else {}
        message = str(error.get("message") or f"HTTP {response.status_code}")
        if response.status_code == 402:
            raise PaymentDeclined(
                message, str(error.get("code") or "card_declined"), error.get("decline_code")
            )
        if response.status_code in (400, 404):
            # A final answer about this request (bad payment method, amount too small,
            # wrong state): sending it again will not change it.
            raise PaymentRejected(message, response.status_code, error.get("param"))
        # 401/403 (our key), 409 (the key in use by a concurrent request), 429 (rate limit):
        # nothing happened that a later retry with the same key cannot finish.
        raise PaymentUnavailable(f"payment API answered HTTP {response.status_code}: {message}")

    # -- the calls we use ----------------------------------------------------------------------
    def create_payment_intent(
        self, amount: int, currency: str, payment_method: str, metadata: dict[str, str], key: str
    ) -> dict[str, Any]:
        return self._request(
            "POST",
            "/v1/payment_intents",
            {
                "amount": amount,
                "currency": currency.lower(),
                "payment_method": payment_method,
                "payment_method_types": {"0": "card"},
                "metadata": metadata,
            },
            key,
        )

    def confirm_payment_intent(self, payment_intent: str, key: str) -> dict[str, Any]:
        return self._request("POST", f"/v1/payment_intents/{payment_intent}/confirm", {}, key)

    def cancel_payment_intent(self, payment_intent: str, key: str) -> dict[str, Any]:
        return self._request("POST", f"/v1/payment_intents/{payment_intent}/cancel", {}, key)

    def retrieve_payment_intent(self, payment_intent: str) -> dict[str, Any]:
        return self._request("GET", f"/v1/payment_intents/{payment_intent}", None, None)

    def create_refund(
        self,
        payment_intent: str,
        amount: int,
        metadata: dict[str, str],
        key: str,
        retries: int | None = None,
    ) -> dict[str, Any]:
        return self._request(
            "POST",
            "/v1/refunds",
            {"payment_intent": payment_intent, "amount": amount, "metadata": metadata},
            key,
            retries,
        )

    def list_refunds(self, payment_intent: str) -> list[dict[str, Any]]:
        answer = self._request(
            "GET", f"/v1/refunds?payment_intent={payment_intent}&limit=100", None, None
        )
        data = answer.get("data")
        return data if isinstance(data, list) else []
