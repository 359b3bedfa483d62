"""Webhook rules without I/O: which URLs may receive events, which events an endpoint
wants, and when a failed delivery is tried again."""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable
from datetime import timedelta
from urllib.parse import urlsplit

from .errors import InvalidRequest

#: event types a partner can subscribe to ("*" means all, including future ones)
EVENT_TYPES = (
    "policy.issued",
    "policy.cancelled",
    "policy.expired",
    "policy.endorsed",
    "policy.payment_failed",
    "claim.created",
    "claim.information_requested",
    "claim.approved",
    "claim.rejected",
    "claim.paid",
    "claim.topped_up",
    "claim.payout_failed",
    "webhook_endpoint.disabled",
)
MAX_URL_LENGTH = 2048
ENDPOINT_STATUSES = ("enabled", "disabled")
DELIVERY_STATUSES = ("pending", "paused", "succeeded", "failed")
#: an attempt whose worker died is abandoned
ATTEMPT_OUTCOMES = ("in_progress", "succeeded", "failed", "abandoned")


def check_url(url: object, param: str = "url") -> str:
    """An absolute http(s) URL with a host, no credentials, no fragment."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise InvalidRequest(
            f"must be an http(s) URL of at most {MAX_URL_LENGTH} characters", param=param
        )
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise InvalidRequest("is not a valid URL", param=param) from None
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidRequest("must be an http:// or https:// URL with a host", param=param)
    if not _valid_host(host):
        raise InvalidRequest("has an invalid host name", param=param)
    if parts.username or parts.password:
        raise InvalidRequest(
            "must not carry credentials; verify the signature instead", param=param
        )
    if parts.fragment:
        raise InvalidRequest("must not have a #fragment", param=param)
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise InvalidRequest("has an invalid port", param=param) from None
    return url


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        encoded = host.rstrip(".").encode("idna")
    except UnicodeError:
        return False
    labels = encoded.split(b".")
    return len(encoded) <= 253 and all(0 < len(label) <= 63 for label in labels)


#: IPv6 ranges that carry or reach IPv4 space, or are otherwise not a public host
_IPV6_REFUSED = [
    ipaddress.ip_network(n)
    for n in ("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "::/96", "fec0::/10")
]


def is_public_address(address: str) -> bool:
    """False for loopback, private, link-local, multicast, reserved and unspecified addresses,
    and for IPv6 forms that embed or translate to IPv4 (mapped, NAT64, 6to4, compatible)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif any(ip in net for net in _IPV6_REFUSED):
            return False
    return ip.is_global and not ip.is_multicast


def address_allowed(address: str, allow_loopback: bool) -> bool:
    """Live mode: public addresses only. Test mode: also loopback, for local development
    (but still not private networks or cloud metadata addresses)."""
    if is_public_address(address):
        return True
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return allow_loopback and ip.is_loopback


def check_event_types(events: object, param: str = "events") -> list[str]:
    if not isinstance(events, list) or not events:
        raise InvalidRequest('must list event types, or ["*"] for all', param=param)
    out: list[str] = []
    for i, name in enumerate(events):
        if name != "*" and name not in EVENT_TYPES:
            raise InvalidRequest(
                f"unknown event type; one of: *, {', '.join(EVENT_TYPES)}", param=f"{param}[{i}]"
            )
        if name not in out:
            out.append(name)
    return out


def wants(subscribed: Iterable[str], event_type: str) -> bool:
    return any(s == "*" or s == event_type for s in subscribed)


def backoff(
    attempt: int, base_seconds: float, max_seconds: float, rng: random.Random | None = None
) -> timedelta:
    """Delay before attempt `attempt + 1`: exponential from `base`, capped, with +-20% jitter
    so that endpoints recovering from an outage are not hit by every retry at once."""
    delay = min(base_seconds * 2 ** max(attempt - 1, 0), max_seconds)
    jitter = (rng or random).uniform(0.8, 1.2)
    return timedelta(seconds=delay * jitter)
