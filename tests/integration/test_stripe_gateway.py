"""How the gateway reads the payment API's answers: final, declined, or retry later."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from policy_service.adapters.stripe_gateway import (
    PaymentDeclined,
    PaymentRejected,
    PaymentUnavailable,
    StripeGateway,
)


@contextmanager
def answering(status: int, body: dict) -> Iterator[tuple[str, list[dict]]]:
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            seen.append({"headers": dict(self.headers), "body": self.rfile.read(length).decode()})
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def _create(url: str) -> dict:
    return StripeGateway("sk_test_x", url, timeout_seconds=1, retries=1).create_payment_intent(
        1910, "CNY", "pm_1", {"policy": "pol_1"}, key="pay_1-create"
    )


def test_requests_are_form_encoded_with_key_and_idempotency() -> None:
    with answering(200, {"id": "pi_1", "status": "requires_confirmation"}) as (url, seen):
        assert _create(url)["id"] == "pi_1"
    [request] = seen
    assert request["headers"]["Authorization"] == "Bearer sk_test_x"
    assert request["headers"]["Idempotency-Key"] == "pay_1-create"
    assert "amount=1910" in request["body"] and "currency=cny" in request["body"]
    assert "metadata%5Bpolicy%5D=pol_1" in request["body"]


def test_a_decline_is_final() -> None:
    error = {
        "error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "no",
        }
    }
    with answering(402, error) as (url, _), pytest.raises(PaymentDeclined) as exc:
        _create(url)
    assert exc.value.decline_code == "insufficient_funds"


@pytest.mark.parametrize("status", [400, 404])
def test_a_refused_request_is_final(status: int) -> None:
    with (
        answering(
            status, {"error": {"message": "No such PaymentMethod", "param": "payment_method"}}
        ) as (url, _),
        pytest.raises(PaymentRejected),
    ):
        _create(url)


@pytest.mark.parametrize("status", [401, 409, 429, 500, 503])
def test_other_answers_mean_retry_later(status: int) -> None:
    with (
        answering(status, {"error": {"message": "busy"}}) as (url, seen),
        pytest.raises(PaymentUnavailable),
    ):
        _create(url)
    # 5xx are retried at once with the same key; 4xx are handed back to retry later
    assert len(seen) == (2 if status >= 500 else 1)
    assert {s["headers"]["Idempotency-Key"] for s in seen} == {"pay_1-create"}
