"""The fallback load generator when wrk is missing: one process per connection on http.client.
It costs 2-4 times wrk's CPU, so the bare rate comes out lower with it."""

from __future__ import annotations

import argparse
import http.client
import math
import multiprocessing
import signal
import time
from typing import Any

from .scenarios import FAILED_RE, ISSUED_RE, Result, Scenario, Target


def _body(sc: Scenario, t: Target, ref: str) -> bytes | None:
    if sc.body == "none":
        return None
    if sc.body == "static":
        return t.quote_body.encode()
    if sc.body == "issue":
        return ref.join(t.item_parts).encode()
    items = ",".join(f"{ref}-{i}".join(t.item_parts) for i in range(sc.batch))
    return f'{{"items":[{items}]}}'.encode()


def _python_worker(
    sc: Scenario, t: Target, prefix: str, start_at: float, end_at: float
) -> dict[str, Any]:
    """One connection: requests back to back until end_at. http.client reconnects by itself
    after a `Connection: close` response, so the connect is inside the measured latency."""
    conn = http.client.HTTPConnection("127.0.0.1", t.port, timeout=60)
    headers = {"Authorization": f"Bearer {t.key}", "Content-Type": "application/json"}
    out: dict[str, Any] = {"lat": [], "ok": 0, "bad": 0, "transport": 0, "issued": 0, "failed": 0}
    statuses: dict[str, int] = {}
    samples: list[str] = []
    n = 0
    time.sleep(max(0.0, start_at - time.time()))
    while time.time() < end_at:
        n += 1
        ref = f"{prefix}-{n}"
        body = _body(sc, t, ref)
        hdrs = {**headers, "Idempotency-Key": ref} if sc.body == "issue" else headers
        t0 = time.perf_counter()
        try:
            conn.request(sc.method, sc.path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            if time.time() < end_at:
                out["transport"] += 1
            conn.close()
            continue
        if time.time() > end_at:
            break  # as in wrk: what lands after the window is not counted (it would inflate req/s)
        out["lat"].append((time.perf_counter() - t0) * 1000)
        statuses[str(resp.status)] = statuses.get(str(resp.status), 0) + 1
        if resp.status == sc.ok_status:
            out["ok"] += 1
            if sc.body == "batch":
                for name, pattern in (("issued", ISSUED_RE), ("failed", FAILED_RE)):
                    m = pattern.search(data[-4096:]) or pattern.search(data)
                    out[name] += int(m.group(1)) if m else 0
                at = data.find(b'"error":') if out["failed"] and not samples else -1
                if at >= 0:
                    samples.append(f"batch item {data[at : at + 400].decode(errors='replace')}")
        else:
            out["bad"] += 1
            if not samples:
                samples.append(f"{resp.status} {data[:400].decode(errors='replace')}")
    conn.close()
    out["statuses"] = statuses
    out["samples"] = samples
    return out


def _worker_signals() -> None:
    # Forked workers inherit main()'s SIGTERM handler; Pool.terminate() must simply end them,
    # and Ctrl-C is the parent's to handle.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _percentile(sorted_values: list[float], p: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def run_python(
    sc: Scenario, t: Target, seconds: int, args: argparse.Namespace, prefix: str
) -> Result:
    # One process per connection: one Python process could not keep 8 connections busy.
    start_at = time.time() + 0.5  # let every process start before the clock runs
    end_at = start_at + seconds
    jobs = [(sc, t, f"{prefix}-{i}", start_at, end_at) for i in range(args.connections)]
    with multiprocessing.Pool(args.connections, initializer=_worker_signals) as pool:
        parts = pool.starmap(_python_worker, jobs)
    lat = sorted(x for part in parts for x in part["lat"])
    statuses: dict[str, int] = {}
    for part in parts:
        for code, n in part["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    return Result(
        scenario=sc.name,
        client="python",
        seconds=float(seconds),
        connections=args.connections,
        expected_status=sc.ok_status,
        requests=len(lat),
        ok=sum(p["ok"] for p in parts),
        bad_status=sum(p["bad"] for p in parts),
        transport_errors=sum(p["transport"] for p in parts),
        items_issued=sum(p["issued"] for p in parts),
        items_failed=sum(p["failed"] for p in parts),
        p50_ms=_percentile(lat, 50),
        p99_ms=_percentile(lat, 99),
        max_ms=lat[-1] if lat else None,
        statuses=dict(sorted(statuses.items())),
        error_samples=list(dict.fromkeys(s for p in parts for s in p["samples"]))[:3],
    )
