"""Signatures, back-off and URL rules of webhooks."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from policy_service.domain.errors import InvalidRequest
from policy_service.domain.signatures import SignatureError, sign, signature_header, verify
from policy_service.domain.webhooks import (
    backoff,
    check_event_types,
    check_url,
    is_public_address,
)


def test_signature_round_trip_and_tolerance() -> None:
    body = b'{"id":"evt_1"}'
    header = signature_header(["whsec_a"], 1_764_000_000, body)
    assert header == f"t=1764000000,v1={sign('whsec_a', 1_764_000_000, body)}"
    assert verify(body, header, "whsec_a", now=1_764_000_100) == 1_764_000_000
    with pytest.raises(SignatureError, match="tolerance"):
        verify(body, header, "whsec_a", now=1_764_000_301)
    with pytest.raises(SignatureError, match="no signature matches"):
        verify(body + b" ", header, "whsec_a", now=1_764_000_000)
    with pytest.raises(SignatureError, match="no signature matches"):
        verify(body, header, "whsec_other", now=1_764_000_000)
    for bad in (None, "", "t=abc,v1=00", "v1=00", "t=1764000000"):
        with pytest.raises(SignatureError):
            verify(body, bad, "whsec_a", now=1_764_000_000)


def test_rotation_signs_with_both_secrets() -> None:
    body = b"{}"
    header = signature_header(["whsec_new", "whsec_old"], 1_764_000_000, body)
    assert header.count("v1=") == 2
    assert verify(body, header, "whsec_new", now=1_764_000_000)
    assert verify(body, header, "whsec_old", now=1_764_000_000)


def test_backoff_grows_is_capped_and_jittered() -> None:
    rng = random.Random(7)
    delays = [backoff(n, 30, 6 * 3600, rng) for n in range(1, 25)]
    assert timedelta(seconds=24) <= delays[0] <= timedelta(seconds=36)
    assert all(d <= timedelta(hours=6 * 1.2) for d in delays)
    assert delays[9] > delays[2] > delays[0]
    # with the defaults, about two dozen attempts fill the 3-day retry window
    assert sum(delays, timedelta()) > timedelta(days=3)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "example.com/hook",
        "https://user:pw@example.com/",
        "https://example.com/#x",
        "",
        "http://",
    ],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(InvalidRequest):
        check_url(url)


def test_addresses() -> None:
    assert is_public_address("93.184.216.34")
    for address in (
        "127.0.0.1",
        "10.1.2.3",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "::ffff:127.0.0.1",
        "0.0.0.0",
    ):
        assert not is_public_address(address), address


def test_event_types() -> None:
    assert check_event_types(["*"]) == ["*"]
    assert check_event_types(["policy.issued", "policy.issued"]) == ["policy.issued"]
    with pytest.raises(InvalidRequest) as exc:
        check_event_types(["policy.issued", "policy.eaten"])
    assert exc.value.param == "events[1]"
