"""Sends one signed webhook over HTTP.

The sender owns the socket: it resolves the host once, checks the address it will really
connect to (no DNS rebinding between the check and the connection), and a watchdog shuts
the socket at a hard deadline, so a receiver that trickles bytes cannot hold a delivery
past its lease. It reads at most MAX_RESPONSE_BYTES of the answer and never follows
redirects. Any failure, whatever raised it, becomes a failed SendResult.
"""

from __future__ import annotations

import contextlib
import heapq
import http.client
import itertools
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from policy_service.domain.signatures import HEADER, signature_header
from policy_service.domain.webhooks import address_allowed, is_public_address

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


class _Refused(Exception):
    pass


def target_refusal(url: str, allow_loopback: bool, numeric_only: bool = False) -> str | None:
    """Why a delivery to `url` would be refused, by the rules every delivery applies (the
    host resolved as the sender resolves it: `2130706433`, `127.1` and names that resolve
    to loopback are loopback); None when it would go. `numeric_only`: addresses in any
    spelling are read, names are not looked up (they are checked at each delivery)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _resolve(parts.hostname or "", port, allow_loopback, numeric_only)
    except _Refused as exc:
        if numeric_only and "cannot resolve" in str(exc):
            return None
        return str(exc)
    return None


def _resolve(
    host: str, port: int, allow_loopback: bool, numeric_only: bool = False
) -> tuple[socket.AddressFamily, str]:
    flags = socket.AI_NUMERICHOST if numeric_only else 0
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=flags)
    except (socket.gaierror, UnicodeError) as exc:
        raise _Refused(f"cannot resolve {host}: {exc}") from None
    for _family, _, _, _, sockaddr in infos:
        address = str(sockaddr[0])
        if not address_allowed(address, allow_loopback):
            raise _Refused(f"{host} resolves to a non-public address ({address})")
    family, _, _, _, sockaddr = infos[0]
    return family, str(sockaddr[0])


class WebhookSender:
    def __init__(self, timeout_seconds: float, keep_loopback_answers: bool = False) -> None:
        self.timeout = timeout_seconds
        self.tls = ssl.create_default_context()
        #: keep what a receiver on loopback answered (never in the service: a test key must
        #: not read local services' answers through the delivery log)
        self.keep_loopback_answers = keep_loopback_answers

    def send(self, url: str, body: bytes, secrets: list[str], allow_loopback: bool) -> SendResult:
        started = time.monotonic()

        def result(
            ok: bool, code: int | None, error: str | None, excerpt: str | None = None
        ) -> SendResult:
            return SendResult(ok, code, int((time.monotonic() - started) * 1000), error, excerpt)

        try:
            code, excerpt = self._post(url, body, secrets, allow_loopback)
        except _Refused as exc:
            return result(False, None, str(exc)[:500])
        except TimeoutError:
            return result(False, None, f"no complete answer within {self.timeout:g} s")
        except Exception as exc:  # a receiver must never be able to crash the worker
            return result(False, None, f"{type(exc).__name__}: {exc}"[:500])
        if 200 <= code < 300:
            return result(True, code, None, excerpt)
        error = f"HTTP {code}"
        if 300 <= code < 400:
            error += " (redirects are not followed: point the endpoint at the final URL)"
        return result(False, code, error, excerpt)

    def _post(
        self, url: str, body: bytes, secrets: list[str], allow_loopback: bool
    ) -> tuple[int, str | None]:
        parts = urlsplit(url)
        host = parts.hostname or ""
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        family, address = _resolve(host, port, allow_loopback)
        deadline_hit = threading.Event()
        raw = socket.socket(family, socket.SOCK_STREAM)
        raw.settimeout(min(self.timeout, 5.0))

        def watchdog() -> None:
            deadline_hit.set()
            with contextlib.suppress(OSError):
                raw.shutdown(socket.SHUT_RDWR)

        alarm = _WATCHDOG.arm(self.timeout, watchdog)
        try:
            raw.connect((address, port))  # the address we checked, not a second lookup
            raw.settimeout(self.timeout)
            sock: socket.socket = self.tls.wrap_socket(raw, server_hostname=host) if https else raw
            conn_class = http.client.HTTPSConnection if https else http.client.HTTPConnection
            conn = conn_class(host, port, timeout=self.timeout)
            conn.sock = sock  # already connected: http.client only speaks HTTP on it
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            conn.request(
                "POST",
                path,
                body=body,
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": USER_AGENT,
                    "Connection": "close",
                    HEADER: signature_header(secrets, int(time.time()), body),
                },
            )
            response = conn.getresponse()
            try:
                data = response.read(MAX_RESPONSE_BYTES)
            except (OSError, http.client.HTTPException) as exc:
                # The status is the answer; a body cut short does not change it.
                data = getattr(exc, "partial", b"") or b""
            if not is_public_address(address) and not self.keep_loopback_answers:
                return response.status, None  # its status and latency, not what it said
            return response.status, data.decode("utf-8", errors="replace")[:500] or None
        except (OSError, http.client.HTTPException):
            # After the watchdog fired, whatever broke was broken by it.
            if deadline_hit.is_set():
                raise TimeoutError from None
            raise
        finally:
            alarm[2] = None  # disarmed
            raw.close()


class _Watchdog:
    """One thread keeps every send's hard deadline: a timer thread started per send cost
    about a fifth of a busy worker's time (py-spy, bench/README.md)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        #: [deadline, sequence, what to call or None once disarmed], soonest first
        self._heap: list[list[Any]] = []
        self._sequence = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, fire: Callable[[], None]) -> list[Any]:
        """Call `fire` in `seconds` unless the returned entry's [2] is set to None first."""
        entry = [time.monotonic() + seconds, next(self._sequence), fire]
        with self._cond:
            heapq.heappush(self._heap, entry)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="webhook-deadlines", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return entry

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    while self._heap and self._heap[0][2] is None:
                        heapq.heappop(self._heap)  # disarmed: drop it
                    if not self._heap:
                        self._cond.wait()
                        continue
                    wait = self._heap[0][0] - time.monotonic()
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                fire = heapq.heappop(self._heap)[2]
            if fire is not None:
                fire()


_WATCHDOG = _Watchdog()
