"""Trigger settlement under load: one report settling many policies, and many reports each
settling one. The policies are issued first through the batch endpoint; the reports are
posted with the partner's test key, which may say when a fact was observed (a simulated
clock), so the bench never waits for a flight to leave."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from .scenarios import PRODUCT, REF_TOKEN
from .server import get_json

FLIGHT_PRODUCT = "flight_delay"
#: ISO 7064 MOD 11-2 weights of a GB 11643 resident ID's first 17 digits
_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]


def resident_id(serial: int) -> str:
    """A valid GB 11643 number, unique per serial (birth date and sequence vary)."""
    born = date(1960, 1, 1) + timedelta(days=serial // 999)
    body = f"110105{born:%Y%m%d}{serial % 999 + 1:03d}"
    check = (12 - sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11) % 11
    return body + ("X" if check == 10 else str(check))


def post_json(
    port: int,
    path: str,
    key: str,
    body: Any,
    extra: dict[str, str] | None = None,
    timeout: float = 600,
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        headers.update(extra or {})
        conn.request("POST", path, payload, headers)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, json.loads(data) if data else None
    finally:
        conn.close()


def issue_batches(port: int, key: str, items: list[dict[str, Any]], size: int = 1000) -> int:
    """Issue every item through POST /v1/policies/batch; the number issued."""
    issued = 0
    for i in range(0, len(items), size):
        status, body = post_json(port, "/v1/policies/batch", key, {"items": items[i : i + size]})
        if status != 200:
            raise RuntimeError(f"batch issue: {status} {str(body)[:400]}")
        issued += int(body["issued"])
        if body["failed"]:
            failed = next(r for r in body["results"] if r.get("error"))
            raise RuntimeError(f"batch issue: {body['failed']} failed, e.g. {failed}")
    return issued


@dataclass
class Settlement:
    policies: int
    seconds: float
    result: dict[str, Any]

    @property
    def policies_per_s(self) -> float:
        return self.policies / self.seconds if self.seconds else 0.0


def one_report_settling(port: int, key: str, policies: int, run: str) -> Settlement:
    """Issue `policies` flight_delay policies on one flight (one passenger each), then time
    the one flight.status report (delayed 245 minutes) that settles them all."""
    product = get_json(f"http://127.0.0.1:{port}/v1/products/{FLIGHT_PRODUCT}", key)
    risk = dict(product["example_risk"])
    items = [
        {
            "product": FLIGHT_PRODUCT,
            "external_ref": f"{run}-f{i}",
            "risk": risk,
            "policyholder": {
                "name": "张三",
                "id_type": "cn_resident_id",
                "id_number": resident_id(i),
            },
        }
        for i in range(policies)
    ]
    issued = issue_batches(port, key, items)
    departure = datetime.fromisoformat(risk["scheduled_departure"])
    report = {
        "type": "flight.status",
        "observed_at": (departure + timedelta(minutes=250)).isoformat(),
        "data": {
            "carrier": risk["carrier"],
            "flight_number": risk["flight_number"],
            "scheduled_departure": risk["scheduled_departure"],
            "status": "delayed",
            "delay_minutes": 245,
        },
    }
    started = time.perf_counter()
    status, body = post_json(port, "/v1/trigger-events", key, report)
    seconds = time.perf_counter() - started
    if status != 201:
        raise RuntimeError(f"flight.status report: {status} {str(body)[:400]}")
    result = body.get("result") or {}
    if int(result.get("matched", 0)) != issued:
        raise RuntimeError(f"the report matched {result.get('matched')} of {issued} policies")
    return Settlement(issued, seconds, result)


def return_pool(
    port: int, key: str, example_risk: dict[str, Any], prefix: str, threads: int, per_thread: int
) -> int:
    """Issue return_shipping policies whose orders scenario.lua's report mode names: the
    order of report n from wrk thread t is prefix-t-n, as in every mode with a ref."""
    items = [
        {
            "product": PRODUCT,
            "external_ref": f"{prefix}-{t}-{n}",
            "risk": {**example_risk, "order_id": f"{prefix}-{t}-{n}"},
        }
        for t in range(threads)
        for n in range(1, per_thread + 1)
    ]
    return issue_batches(port, key, items)


def report_parts(example_risk: dict[str, Any]) -> tuple[str, ...]:
    """A shipment.return report cut where its order's ref goes (see Target.item_parts)."""
    delivered = date.fromisoformat(example_risk["delivery_date"])
    picked = datetime.combine(delivered + timedelta(days=1), datetime.min.time()).replace(
        hour=10, tzinfo=datetime.fromisoformat("2026-01-01T00:00:00+08:00").tzinfo
    )
    report = {
        "type": "shipment.return",
        "observed_at": (picked + timedelta(hours=1)).isoformat(),
        "data": {
            "platform": example_risk["platform"],
            "order_id": REF_TOKEN,
            "carrier": "SF",
            "tracking_number": "SF-" + REF_TOKEN,  # one parcel per report, as in life
            "picked_up_at": picked.isoformat(),
            "shipping_cost": {"amount": "12.00", "currency": "CNY"},
        },
    }
    return tuple(json.dumps(report, separators=(",", ":")).split(REF_TOKEN))
