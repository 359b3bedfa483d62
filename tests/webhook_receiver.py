"""A real HTTP webhook receiver on loopback for the tests, with scripted answers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    at: float

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    #: (number of the request, 1-based) -> (status, delay seconds)
    answer: Callable[[int], tuple[int, float]] = lambda n: (200, 0.0)
    received: list[Received] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)
    max_in_flight_per_event: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, condition: Callable[[Receiver], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self):
            if time.monotonic() > deadline:
                raise TimeoutError(f"receiver got {len(self.received)} requests; condition not met")
            time.sleep(0.05)

    def event_ids(self) -> list[str]:
        with self.lock:
            return [r.event["id"] for r in self.received]


@contextmanager
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")
    counter = {"n": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            event_id = json.loads(body)["id"]
            with state.lock:
                counter["n"] += 1
                n = counter["n"]
                state.in_flight[event_id] = state.in_flight.get(event_id, 0) + 1
                state.max_in_flight_per_event = max(
                    state.max_in_flight_per_event, state.in_flight[event_id]
                )
            status, delay = state.answer(n)
            time.sleep(delay)
            with state.lock:
                state.in_flight[event_id] -= 1
                if 200 <= status < 300:
                    state.received.append(Received(body, dict(self.headers), time.time()))
            payload = b'{"ok": true}' if status < 300 else b"receiver says no"
            try:
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the worker gave up (timeout) or was killed

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        # socketserver's backlog of 5 drops connections when two workers send 8 at once,
        # and a dropped SYN costs the sender a 1 s retransmit
        request_queue_size = 128
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
