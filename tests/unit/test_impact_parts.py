"""`products impact` prices a book a slice at a time and merges what each slice counts:
the report must not depend on where the slices are cut (the same merge will combine
partitions priced on many processes)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricing.impact import impact
from pricing.loader import load_catalog
from pricing.model import Edition
from tests import risk_strategies
from tests.risk_strategies import instants

PRODUCTS = Path(__file__).resolve().parents[2] / "products"
#: every product's first and last edition (the same one twice when it has only one)
PAIRS = [(p.editions[0], p.editions[-1]) for p in load_catalog(PRODUCTS).products.values()]


def _same(report: dict[str, Any]) -> dict[str, Any]:
    # a mean of % changes summed in another order may differ in its last bits
    for m in report["biggest_movers"]:
        m["mean_change_pct"] = round(m["mean_change_pct"], 6)
    return report


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"{p[0].ref}->{p[1].id}")
def test_the_report_does_not_depend_on_the_slices(pair: tuple[Edition, Edition]) -> None:
    a, b = pair

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        risks=st.lists(
            risk_strategies.risk(b), min_size=1, max_size=90
        ),  # past SEGMENT_LEVELS (60)
        now=instants,
        chunk=st.integers(1, 95),
    )
    def check(risks: list[dict[str, Any]], now: datetime, chunk: int) -> None:
        book = pd.DataFrame(risks)
        now = now.astimezone(UTC)
        seen: list[tuple[int, int]] = []
        whole = impact("p", a, b, book, now, "book", chunk_rows=len(risks))
        sliced = impact(
            "p", a, b, book, now, "book", chunk_rows=chunk, progress=lambda *d: seen.append(d)
        )
        assert _same(sliced.to_json()) == _same(whole.to_json())
        assert seen[-1] == (len(risks), len(risks))
        assert [d for d, _ in seen] == sorted(
            {min(len(risks), i + chunk) for i in range(0, len(risks), chunk)}
        )

    check()
