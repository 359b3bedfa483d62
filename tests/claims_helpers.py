"""Helpers for claims tests: provider keys, staff tokens, trigger bodies, resident ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient

from policy_service.adapters.unit_of_work import SqlUnitOfWork
from policy_service.services.partners import create_provider
from policy_service.services.staff import create_staff, create_token

from .conftest import START

# A flight that leaves the day after the tests' clock starts (2026-11-25T02:00Z).
DEPARTURE = "2026-11-26T08:00:00+08:00"
# 5.5 h after the scheduled departure: a delay of up to 330 minutes is a fact by then
AFTER_DEPARTURE = "2026-11-26T05:30:00+00:00"


def provider_key(engine: sa.Engine, live: bool = False, name: str = "FlightFeed") -> str:
    _, secret = create_provider(SqlUnitOfWork(engine), name, live, START)
    return secret


def staff_token(engine: sa.Engine, email: str, role: str) -> str:
    uow = SqlUnitOfWork(engine)
    create_staff(uow, email, role, None, START)
    return create_token(uow, email, START)


@dataclass
class Bearer:
    """The Flask test client with any bearer token; returns (status, json)."""

    client: FlaskClient
    token: str

    def get(self, path: str, **params: Any) -> tuple[int, Any]:
        r = self.client.get(
            path, headers={"Authorization": f"Bearer {self.token}"}, query_string=params
        )
        return r.status_code, r.get_json()

    def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        r = self.client.post(
            path,
            json=body if body is not None else {},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        return r.status_code, r.get_json()


def flight_status(
    delay: int | None,
    status: str = "delayed",
    flight: str = "MU5101",
    departure: str = DEPARTURE,
    observed_at: str | None = AFTER_DEPARTURE,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "carrier": flight[:2],
        "flight_number": flight,
        "scheduled_departure": departure,
        "status": status,
    }
    if delay is not None:
        data["delay_minutes"] = delay
    body: dict[str, Any] = {"type": "flight.status", "data": data}
    if observed_at:
        body["observed_at"] = observed_at
    return body


def shipment_return(
    order_id: str,
    cost: str = "12.00",
    tracking: str = "SF1234567890",
    picked_up_at: str = "2026-11-27T10:00:00+08:00",
    observed_at: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "shipment.return",
        "data": {
            "platform": "taobao",
            "order_id": order_id,
            "carrier": "SF Express",
            "tracking_number": tracking,
            "picked_up_at": picked_up_at,
            "shipping_cost": {"amount": cost, "currency": "CNY"},
        },
    }
    if observed_at:
        body["observed_at"] = observed_at
    return body


_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(n: int) -> str:
    """A valid GB 11643 resident ID number, different for each n (born 1980-01-01)."""
    body = f"{110105 + n // 1000:06d}19800101{n % 1000:03d}"
    total = sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]
