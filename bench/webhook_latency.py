#!/usr/bin/env python3
"""Webhook delivery latency under load: policies issued at a fixed rate (batches of 50, so
500 events/s is 10 requests/s), every policy.issued delivered to a receiver on loopback by
two `policy-service worker` processes; each latency runs from the event's commit (the
batch's answer) to its arrival. Beside it, the baseline measured in the same run: the
round trip of an empty POST to the same receiver, which no delivery can beat.

    .venv/bin/python bench/webhook_latency.py                 # 500 events/s for 20 s
    .venv/bin/python bench/webhook_latency.py --rate 200 --seconds 10

A measurement, never a test: it prints the figures and the target (p99 <= 2 s) and exits
1 only when an event was never delivered.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from throughput.service import bench_setup, running_service

BATCH = 50


def _receiver() -> tuple[ThreadingHTTPServer, dict[str, float]]:
    arrived: dict[str, float] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if body:
                arrived[json.loads(body)["data"]["object"]["external_ref"]] = time.monotonic()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        # socketserver's default backlog of 5 drops the connections of 16 senders at
        # once, and each dropped SYN costs the sender a 1 s retransmit (py-spy: workers
        # idle in connect(), the machine 77% idle)
        request_queue_size = 1024
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, arrived


def _post(url: str, key: str, body: bytes) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rate", type=float, default=500.0, help="events (policies) per second")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = p.parse_args()
    exe = bench_setup()
    if exe is None:
        return 2
    receiver, arrived = _receiver()
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    baseline = []
    for _ in range(200):
        started = time.monotonic()
        urllib.request.urlopen(urllib.request.Request(hook, data=b"", method="POST"), timeout=5)
        baseline.append((time.monotonic() - started) * 1000)
    with running_service(exe, 2, args.pg_url) as svc:
        base, key = svc.base, svc.target.key
        _post(
            f"{base}/v1/webhook-endpoints",
            key,
            json.dumps({"url": hook, "events": ["policy.issued"]}).encode(),
        )
        env = {
            **os.environ,
            "DATABASE_URL": "postgresql+psycopg://" + (svc.pg_dsn or "").split("://", 1)[1],
            "PII_HASH_KEY": "bench",
            "DATA_DIR": str(svc.log.parent),
            "WORKER_POLL_SECONDS": "0.05",
        }
        workers = [
            subprocess.Popen(
                [str(exe), "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            for _ in range(2)
        ]
        committed: dict[str, float] = {}
        try:
            requests_per_second = args.rate / BATCH
            total = int(args.seconds * requests_per_second)
            start = time.monotonic()
            for n in range(total):
                due = start + n / requests_per_second
                time.sleep(max(0.0, due - time.monotonic()))
                refs = [f"wh-{n}-{i}" for i in range(BATCH)]
                items = ",".join(ref.join(svc.target.item_parts) for ref in refs)
                answer = _post(f"{base}/v1/policies/batch", key, f'{{"items":[{items}]}}'.encode())
                now = time.monotonic()
                for result in answer["results"]:
                    if result["status"] == 201:
                        committed[result["policy"]["external_ref"]] = now
            deadline = time.monotonic() + 30
            while (
                len(set(committed) & set(arrived)) < len(committed) and time.monotonic() < deadline
            ):
                time.sleep(0.1)
        finally:
            for w in workers:
                w.terminate()
            for w in workers:
                w.wait(30)
    receiver.shutdown()
    latencies = [(arrived[r] - t) * 1000 for r, t in committed.items() if r in arrived]
    missing = len(committed) - len(latencies)
    base_p50 = statistics.median(baseline)
    print(
        f"events issued: {len(committed):,} at {args.rate:g}/s for {args.seconds:g} s; delivered {len(latencies):,}, missing {missing}"
    )
    print(
        f"baseline (empty POST to the receiver): p50 {base_p50:.2f} ms, p99 {percentile(baseline, 99):.2f} ms"
    )
    if latencies:
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        print(
            f"commit -> delivery: p50 {p50:.1f} ms ({p50 / base_p50:.0f}x baseline), p99 {p99:.1f} ms, max {max(latencies):.1f} ms"
        )
        times = sorted(arrived[r] for r in committed if r in arrived)
        if len(times) > 1:
            rate = (len(times) - 1) / (times[-1] - times[0])
            print(f"delivered {rate:,.0f} events/s (first to last arrival)")
        print(f"target p99 <= 2000 ms: {'met' if p99 <= 2000 else 'BELOW'}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
