"""The webhook sender against misbehaving receivers on real sockets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from policy_service.adapters.webhook_sender import MAX_RESPONSE_BYTES, WebhookSender
from policy_service.domain.signatures import verify


@contextmanager
def raw_server(handle: Callable[[socket.socket], None]) -> Iterator[str]:
    """A TCP server that hands each connection to `handle` (HTTP written by hand)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=_run, args=(conn,), daemon=True).start()

    def _run(conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                handle(conn)
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/hook?token=abc"
    finally:
        stop.set()
        thread.join(2)
        server.close()


def test_a_2xx_with_a_broken_body_still_counts_and_nothing_escapes() -> None:
    with raw_server(
        lambda c: c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nok")
    ) as url:
        result = WebhookSender(2).send(url, b"{}", ["whsec_x"], allow_loopback=True)
    assert result.ok and result.status_code == 200


def test_garbage_is_a_failure_not_a_crash() -> None:
    with raw_server(lambda c: c.sendall(b"\x00\xffnot http at all\r\n\r\n")) as url:
        result = WebhookSender(2).send(url, b"{}", ["whsec_x"], allow_loopback=True)
    assert not result.ok and result.error


def test_a_trickling_receiver_is_cut_at_the_deadline() -> None:
    def trickle(conn: socket.socket) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
            conn.sendall(bytes([byte]))
            time.sleep(0.1)

    with raw_server(trickle) as url:
        started = time.monotonic()
        result = WebhookSender(1).send(url, b"{}", ["whsec_x"], allow_loopback=True)
        took = time.monotonic() - started
    assert not result.ok
    assert "within 1 s" in (result.error or "")
    assert took < 2.0


def test_redirects_are_not_followed() -> None:
    answer = b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/\r\nContent-Length: 0\r\n\r\n"
    with raw_server(lambda c: c.sendall(answer)) as url:
        result = WebhookSender(2).send(url, b"{}", ["whsec_x"], allow_loopback=True)
    assert (result.ok, result.status_code) == (False, 302)
    assert "redirects are not followed" in (result.error or "")


def test_only_the_start_of_a_large_answer_is_read() -> None:
    big = b"x" * (10 * MAX_RESPONSE_BYTES)
    head = b"HTTP/1.1 500 Oops\r\nContent-Length: %d\r\n\r\n" % len(big)
    with raw_server(lambda c: c.sendall(head + big)) as url:
        sender = WebhookSender(2, keep_loopback_answers=True)
        result = sender.send(url, b"{}", ["whsec_x"], allow_loopback=True)
    assert result.status_code == 500 and len(result.excerpt or "") == 500


def test_what_a_loopback_receiver_answered_is_never_kept() -> None:
    secret_page = b"HTTP/1.1 200 OK\r\nContent-Length: 18\r\n\r\nadmin password: 42"
    with raw_server(lambda c: c.sendall(secret_page)) as url:
        result = WebhookSender(2).send(url, b"{}", ["whsec_x"], allow_loopback=True)
    assert result.ok and result.status_code == 200 and result.latency_ms >= 0
    assert result.excerpt is None


def test_live_mode_never_connects_to_loopback() -> None:
    hits: list[bytes] = []
    with raw_server(lambda c: hits.append(b"hit")) as url:
        result = WebhookSender(2).send(url, b"{}", ["whsec_x"], allow_loopback=False)
        time.sleep(0.3)
    assert not result.ok and "non-public address" in (result.error or "")
    assert hits == []


def test_the_request_is_signed_and_sent_to_the_path_and_query() -> None:
    seen: dict[str, bytes] = {}

    def capture(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")

    server = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{server.getsockname()[1]}/hook?token=abc"

    def accept() -> None:
        conn, _ = server.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data or not data.endswith(b"}"):
                data += conn.recv(65536)
            seen["request"] = data
            capture(conn)

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    result = WebhookSender(2).send(url, b'{"id":"evt_1"}', ["whsec_x"], allow_loopback=True)
    t.join(2)
    server.close()
    assert result.ok and result.status_code == 204
    head, _, body = seen["request"].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /hook?token=abc HTTP/1.1"
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert body == b'{"id":"evt_1"}'
    verify(body, headers["Policy-Service-Signature"], "whsec_x")
