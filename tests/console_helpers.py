"""Helpers for ops console tests: staff with passwords, a logged-in test client, claims to
review."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from policy_service.adapters.unit_of_work import SqlUnitOfWork
from policy_service.services.staff import create_staff

from .claims_helpers import (
    DEPARTURE,
    Bearer,
    flight_status,
    provider_key,
    resident_id,
    shipment_return,
)
from .conftest import (
    START,
    ApiClient,
    Clock,
    flight_policy,
    make_partner,
    passenger,
    shipping_policy,
)

BEIJING = ZoneInfo("Asia/Shanghai")

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_staff(engine: sa.Engine, email: str, role: str, password: str = PASSWORD) -> None:
    create_staff(SqlUnitOfWork(engine), email, role, password, START)


def csrf_of(page: TestResponse) -> str:
    found = _CSRF.search(page.get_data(as_text=True))
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


class Console:
    """A browser-like test client of /ops: keeps the session cookie, posts forms with the
    CSRF token of the last page it read."""

    def __init__(self, app: Flask) -> None:
        self.client: FlaskClient = app.test_client()
        self.token = ""

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        page = self.client.get(path, **kwargs)
        found = _CSRF.search(page.get_data(as_text=True))
        if found:
            self.token = found.group(1)
        return page

    def post(self, path: str, data: dict[str, str], csrf: bool = True) -> TestResponse:
        form = {**data, "csrf_token": self.token} if csrf else data
        return self.client.post(path, data=form)

    def login(self, email: str, password: str = PASSWORD) -> TestResponse:
        self.get("/ops/login")
        return self.post("/ops/login", {"email": email, "password": password})


def logged_in(app: Flask, engine: sa.Engine, email: str, role: str) -> Console:
    add_staff(engine, email, role)
    console = Console(app)
    answer = console.login(email)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return console


def filed_flight_claim(
    api: ApiClient, n: int, amount: str, ref: str | None = None, departure: str = DEPARTURE
) -> str:
    """A flight policy and a claim the partner filed on it (it waits for review)."""
    status, policy = api.post(
        "/v1/policies",
        flight_policy(
            ref or f"booking-{n}",
            holder=passenger(resident_id(n)),
            scheduled_departure=departure,
        ),
    )
    assert status == 201, policy
    status, claim = api.post(
        "/v1/claims",
        {
            "policy": policy["id"],
            "type": "delay_240",
            "description": "the airline letter says 4 h 10 min",
            "amount_claimed": {"amount": amount, "currency": "CNY"},
        },
    )
    assert status == 201, claim
    return str(claim["id"])


def _flight_day(d: int) -> tuple[str, str, str]:
    """Day d's flight: its number, its departure (06:00 Beijing time the next morning) and
    when its status is reported (4.5 h later: every delay of the book is a fact by then)."""
    departure = START + timedelta(days=d, hours=20)
    return (
        f"MU{5100 + d}",
        departure.astimezone(BEIJING).isoformat(),
        (departure + timedelta(hours=4, minutes=30)).isoformat(),
    )


def seed_book(app: Flask, engine: sa.Engine, clock: Clock, days: int = 10) -> Book:
    """Ten days of a small live book, as the dashboard and the queue see it in production:
    flight policies every day and a report on each flight (some delays pay automatically,
    some not at all), return-shipping covers with pickups (one reused tracking number,
    one dear parcel), and claims the partners filed that wait for a person."""
    flights_id, flights_key = make_partner(engine, "Skyway Travel", live=True)
    shop_id, shop_key = make_partner(engine, "Lotus Mall", live=True)
    flights = ApiClient(app.test_client(), flights_key, flights_id)
    shop = ApiClient(app.test_client(), shop_key, shop_id)
    feed = Bearer(app.test_client(), provider_key(engine, live=True, name="FlightFeed"))
    delays = (250, 30, 130, 0, 185, 45, 260, 10, 125, 70)
    n = 0
    for d in range(days + 1):
        clock.now = START + timedelta(days=d, minutes=30)
        if d > 0:
            flight, departure, observed = _flight_day(d - 1)
            delay = delays[(d - 1) % len(delays)]
            status = "departed" if delay else "scheduled"
            body = flight_status(delay, status, flight, departure, observed)
            answer = feed.post("/v1/trigger-events", body)
            assert answer[0] in (200, 201), answer
        if d == days:
            break
        flight, departure, _ = _flight_day(d)
        for _ in range(4 + d % 3):
            n += 1
            status, policy = flights.post(
                "/v1/policies",
                flight_policy(
                    f"trip-{n}",
                    holder=passenger(resident_id(n)),
                    scheduled_departure=departure,
                    flight_number=flight,
                ),
            )
            assert status == 201, policy
    clock.now = START + timedelta(days=days)
    return Book(flights, shop, feed)


@dataclass
class Book:
    flights: ApiClient
    shop: ApiClient
    feed: Bearer


def seed_review_work(book: Book, clock: Clock) -> dict[str, str]:
    """Claims that wait for review, of several kinds; returns their ids by name."""
    shop, feed = book.shop, book.feed
    ids: dict[str, str] = {}
    clock.now = START
    for ref in ("order-1", "order-2", "order-3", "order-4"):
        status, _ = shop.post("/v1/policies", shipping_policy(ref))
        assert status == 201
    clock.now = START + timedelta(days=2)
    for order, cost, tracking in (
        ("order-1", "12.00", "YT9988776655"),
        ("order-2", "18.00", "yt9988776655"),  # the same parcel, in other letters
        ("order-3", "160.00", "SF5550001111"),
        ("order-4", "9.00", "SF5550002222"),
    ):
        answer = feed.post("/v1/trigger-events", shipment_return(order, cost, tracking))
        assert answer[1]["result"]["matched"] == 1, answer
    for name, ref in (("reused", "order-2"), ("dear", "order-3")):
        _, found = shop.get("/v1/policies", external_ref=ref)
        _, claims = shop.get("/v1/claims", policy=found["data"][0]["id"])
        ids[name] = claims["data"][0]["id"]
    clock.now = START + timedelta(days=10)
    _, departure, _ = _flight_day(10)
    ids["filed_100"] = filed_flight_claim(book.flights, 901, "100.00", "trip-901", departure)
    ids["filed_250"] = filed_flight_claim(book.flights, 902, "250.00", "trip-902", departure)
    clock.advance(hours=5)
    return ids
