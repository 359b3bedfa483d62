"""The real payment peer for the tests: localstripe (PyPI) in a subprocess on a free loopback
port, and a TCP proxy in front of it that can refuse connections or swallow answers, to
stop the peer mid-flow the way a network does."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

from policy_service.adapters.tables import ledger_entries

PEER_KEY = "sk_test_localstripe"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def localstripe(log_path: Path) -> Iterator[str]:
    port = free_port()
    exe = Path(sys.executable).with_name("localstripe")
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(exe), "--port", str(port), "--from-scratch"], stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    requests.get(f"{url}/v1/customers", auth=(PEER_KEY, ""), timeout=1)
                    break
                except (requests.ConnectionError, requests.Timeout):  # still booting
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError(log_path.read_text()) from None
                    time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            proc.wait(10)


class FaultProxy:
    """Forwards TCP to the peer. mode: "pass"; "refuse" (the peer is down); or
    "swallow:<text>" (requests containing <text> reach the peer, their answers never come back)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.mode = "pass"
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.mode == "refuse":
                client.close()
                continue
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
        except OSError:
            client.close()
            return
        state = {"swallow": False}
        needle = self.mode.split(":", 1)[1].encode() if self.mode.startswith("swallow:") else None

        def pump(src: socket.socket, dst: socket.socket, inbound: bool) -> None:
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    if inbound and needle and needle in data:
                        state["swallow"] = True
                    if not inbound and state["swallow"]:
                        continue  # the answer is lost on the way back
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    with suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

        threading.Thread(target=pump, args=(client, upstream, True), daemon=True).start()
        pump(upstream, client, False)
        client.close()
        upstream.close()

    def close(self) -> None:
        self.stopping.set()
        self.server.close()
        self.thread.join(2)


def payment_method(peer: str, number: str = "4242424242424242") -> str:
    answer = requests.post(
        f"{peer}/v1/payment_methods",
        auth=(PEER_KEY, ""),
        data={
            "type": "card",
            "card[number]": number,
            "card[exp_month]": "12",
            "card[exp_year]": "2030",
            "card[cvc]": "123",
        },
        timeout=5,
    )
    answer.raise_for_status()
    return answer.json()["id"]


def peer_get(peer: str, path: str) -> Any:
    answer = requests.get(f"{peer}{path}", auth=(PEER_KEY, ""), timeout=5)
    answer.raise_for_status()
    return answer.json()


def intents_for(peer: str, policy_id: str) -> list[dict[str, Any]]:
    data = peer_get(peer, "/v1/payment_intents?limit=100")["data"]
    return [pi for pi in data if pi.get("metadata", {}).get("policy") == policy_id]


def ledger_of(engine: sa.Engine, policy_id: str) -> list[tuple[str, int, str]]:
    """A policy's ledger entries, oldest first: (kind, amount in minor units, collected_by)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(ledger_entries.c.kind, ledger_entries.c.amount, ledger_entries.c.collected_by)
            .where(ledger_entries.c.policy_id == policy_id)
            .order_by(ledger_entries.c.id)
        )
        return [tuple(r) for r in rows]
