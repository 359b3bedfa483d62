"""An open-loop client: requests leave at a fixed rate whether or not earlier ones have been
answered, and each latency runs from the moment its request was due, not from when it
could be sent. A closed-loop client (wrk) slows down with the server and hides the queue it
builds (coordinated omission); this one shows it, as wrk2 would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class OpenLoopResult:
    rate: float
    seconds: float
    sent: int = 0
    ok: int = 0
    bad_status: int = 0
    transport_errors: int = 0
    #: requests still unanswered when the run ended (counted as errors)
    unfinished: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    #: how late the client itself was in sending, at worst (a busy client skews the run)
    worst_send_lag_ms: float = 0.0

    def percentile(self, p: float) -> float | None:
        values = sorted(self.latencies_ms)
        if not values:
            return None
        return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]

    @property
    def achieved(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.bad_status + self.transport_errors + self.unfinished


async def _one(
    port: int, raw: bytes, due: float, ok_status: int, out: OpenLoopResult, timeout: float
) -> None:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        writer.write(raw)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n"), timeout)
        body = await asyncio.wait_for(reader.read(), timeout)  # the request said close
        writer.close()
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        out.transport_errors += 1
        if len(out.samples) < 3:
            out.samples.append(f"transport: {exc!r}")
        return
    done = time.perf_counter()
    status = head.split(b" ", 2)[1].decode() if head.count(b" ") >= 1 else "?"
    out.statuses[status] = out.statuses.get(status, 0) + 1
    if status == str(ok_status):
        out.ok += 1
        out.latencies_ms.append((done - due) * 1000)
    else:
        out.bad_status += 1
        if len(out.samples) < 3:
            out.samples.append(f"{status} {body[-400:]!r}")


async def _run(
    port: int,
    make_request: Callable[[int], bytes],
    rate: float,
    seconds: float,
    ok_status: int,
    timeout: float,
) -> OpenLoopResult:
    out = OpenLoopResult(rate=rate, seconds=seconds)
    tasks: set[asyncio.Task[None]] = set()
    start = time.perf_counter() + 0.05
    total = int(rate * seconds)
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            out.worst_send_lag_ms = max(out.worst_send_lag_ms, -delay * 1000)
        task = asyncio.create_task(_one(port, make_request(i), due, ok_status, out, timeout))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        out.sent += 1
    if tasks:
        _, pending = await asyncio.wait(set(tasks), timeout=timeout)
        out.unfinished = len(pending)
        for task in pending:
            task.cancel()
    return out


def run_open_loop(
    port: int,
    make_request: Callable[[int], bytes],
    rate: float,
    seconds: float,
    ok_status: int,
    timeout: float = 10.0,
) -> OpenLoopResult:
    """Send int(rate * seconds) requests, request i due at i / rate seconds after the start.
    make_request(i) gives the whole HTTP/1.1 request; it must ask for Connection: close."""
    return asyncio.run(_run(port, make_request, rate, seconds, ok_status, timeout))


def http_request(method: str, path: str, host: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
