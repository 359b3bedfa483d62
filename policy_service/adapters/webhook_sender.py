"""Sends one signed webhook over HTTP: bounded in time and in what it reads, no redirects,
and (in live mode) never to a private or loopback address."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from policy_service.domain.signatures import HEADER, signature_header
from policy_service.domain.webhooks import is_public_address

#: we read at most this much of a receiver's answer
MAX_RESPONSE_BYTES = 4096
USER_AGENT = "policy-service-webhooks/1"


@dataclass(frozen=True)
class SendResult:
    ok: bool
    status_code: int | None
    latency_ms: int
    error: str | None
    excerpt: str | None


class AddressRefused(Exception):
    pass


def check_destination(url: str, allow_private: bool) -> None:
    """Resolve the host now and refuse private targets (live mode), also against DNS tricks
    that point a public name at an internal address."""
    if allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise AddressRefused(f"cannot resolve {host}: {exc}") from None
    for info in infos:
        address = str(info[4][0])
        if not is_public_address(address):
            raise AddressRefused(f"{host} resolves to a non-public address ({address})")


class WebhookSender:
    def __init__(self, timeout_seconds: float) -> None:
        self.timeout = timeout_seconds
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.trust_env = False  # no proxies from the environment

    def send(self, url: str, body: bytes, secrets: list[str], allow_private: bool) -> SendResult:
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            check_destination(url, allow_private)
            headers = {
                "Content-Type": "application/json",
                HEADER: signature_header(secrets, int(time.time()), body),
            }
            with self.session.post(
                url,
                data=body,
                headers=headers,
                timeout=(min(self.timeout, 5.0), self.timeout),
                allow_redirects=False,
                stream=True,
            ) as response:
                raw = response.raw.read(MAX_RESPONSE_BYTES, decode_content=True) or b""
                excerpt = raw.decode("utf-8", errors="replace")[:500] or None
                code = response.status_code
        except AddressRefused as exc:
            return SendResult(False, None, elapsed(), str(exc)[:500], None)
        except requests.Timeout:
            return SendResult(False, None, elapsed(), f"timed out after {self.timeout:g} s", None)
        except requests.RequestException as exc:
            return SendResult(False, None, elapsed(), f"{type(exc).__name__}: {exc}"[:500], None)
        if 200 <= code < 300:
            return SendResult(True, code, elapsed(), None, excerpt)
        error = f"HTTP {code}"
        if 300 <= code < 400:
            error += " (redirects are not followed: point the endpoint at the final URL)"
        return SendResult(False, code, elapsed(), error, excerpt)
