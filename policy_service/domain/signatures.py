"""Webhook signatures: the header we send and the check partners run.

    Policy-Service-Signature: t=1764000000,v1=5257a869...

v1 is the hex HMAC-SHA256 of "<t>.<raw body>" under the endpoint's signing secret. While a
rotated secret is still valid, one v1 is sent per secret; a receiver accepts the request if
any of them matches. `verify` below is the function partners copy (README, "Webhooks").
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Policy-Service-Signature"
TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """The signature header is missing, malformed, stale, or matches no secret."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets: list[str], timestamp: int, body: bytes) -> str:
    return ",".join([f"t={timestamp}", *(f"v1={sign(s, timestamp, body)}" for s in secrets)])


def verify(
    body: bytes,
    header: str | None,
    secret: str,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check a webhook request; returns its timestamp or raises SignatureError.

    body: the raw request body, exactly as received (do not re-serialise the JSON).
    header: the Policy-Service-Signature header.
    secret: your endpoint's signing secret (whsec_...).
    tolerance: how old (or how far ahead) the timestamp may be, seconds; replays of an
    old request are refused. Deliveries are at-least-once: also dedupe on the event id.
    """
    if not header:
        raise SignatureError("no Policy-Service-Signature header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("malformed signature header")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError("timestamp outside the tolerance: a replayed or delayed request")
    expected = sign(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise SignatureError("no signature matches the secret")
    return timestamp
