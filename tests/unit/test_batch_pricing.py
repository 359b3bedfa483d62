"""The batch path prices a table of risks exactly as the scalar engine prices each one:
same status, same first error or refusal codes, same premium parts to the cent, same
cover. Hypothesis generates the risks (mostly valid, some missing or wrong values) for
every edition of every product."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricing import engine
from pricing.batch import FAILED, INVALID, PRICED, REFUSED, price_frame
from pricing.errors import BreakdownError, EvaluationError, InputErrors
from pricing.loader import load_catalog
from pricing.model import Edition
from tests import risk_strategies
from tests.risk_strategies import instants

PRODUCTS = Path(__file__).resolve().parents[2] / "products"
EDITIONS = [e for p in load_catalog(PRODUCTS).products.values() for e in p.editions]


def _risks(edition: Edition) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(risk_strategies.risk(edition), min_size=1, max_size=30)


def _scalar(edition: Edition, risk: dict[str, Any], now: datetime) -> tuple[Any, ...]:
    try:
        priced = engine.price(edition, edition.inputs.parse(risk), now)
    except InputErrors as exc:
        return (INVALID, str(exc.errors[0]))
    except (EvaluationError, BreakdownError) as exc:
        return (FAILED, str(exc))
    if priced.refusals:
        return (REFUSED, ",".join(r.code for r in priced.refusals))
    assert priced.breakdown is not None
    b = priced.breakdown
    return (
        PRICED,
        b.net,
        b.tax,
        b.commission,
        b.fees,
        b.total,
        priced.coverage_start,
        priced.coverage_end,
    )


@pytest.mark.parametrize("edition", EDITIONS, ids=lambda e: e.ref)
def test_the_batch_path_prices_every_row_as_the_scalar_engine(edition: Edition) -> None:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(risks=_risks(edition), now=instants)
    def check(risks: list[dict[str, Any]], now: datetime) -> None:
        now = now.astimezone(UTC)
        result = price_frame(edition, pd.DataFrame(risks), now)
        for i, risk in enumerate(risks):
            row = result.frame.iloc[i]
            want = _scalar(edition, risk, now)
            if row["status"] != PRICED:
                assert (row["status"], row["error"]) == want, risk
                continue
            premium = result.premium(i)
            assert premium is not None
            got = (
                PRICED,
                *(premium[k] for k in ("net", "tax", "commission", "fees", "total")),
                row["coverage_start"],
                row["coverage_end"],
            )
            assert got == want, risk

    check()


def test_a_table_of_one_risk_per_example_prices_like_the_products_tests() -> None:
    # The products' own example risks, all at once, against the scalar engine.
    now = datetime(2026, 12, 1, tzinfo=UTC)
    for edition in EDITIONS:
        frame = pd.DataFrame([edition.example(now)] * 3)
        result = price_frame(edition, frame, now)
        want = _scalar(edition, edition.example(now), now)
        assert want[0] == PRICED
        assert list(result.frame["status"]) == [PRICED] * 3
        assert result.premium(2)["total"] == want[5]  # type: ignore[index]
        assert isinstance(want[5], Decimal)


def test_the_same_instant_in_two_offsets_is_two_risks() -> None:
    # hour() and month() read the offset the partner gave: 08:00+08:00 and 00:00Z are
    # one instant but not one price.
    edition = next(e for e in EDITIONS if e.product == "flight_delay")
    now = datetime(2026, 12, 1, tzinfo=UTC)
    risks = [
        {**edition.example(now), "scheduled_departure": "2027-07-15T08:00:00+08:00"},
        {**edition.example(now), "scheduled_departure": "2027-07-15T00:00:00+00:00"},
    ]
    result = price_frame(edition, pd.DataFrame(risks), now)
    for i, risk in enumerate(risks):
        want = _scalar(edition, risk, now)
        premium = result.premium(i)
        assert premium is not None and premium["total"] == want[5]
        assert result.frame["coverage_start"].iat[i].isoformat() == want[6].isoformat()
    assert result.premium(0) != result.premium(1)
