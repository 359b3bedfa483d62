"""The batch path prices a table of risks exactly as the scalar engine prices each one:
same status, same first error or refusal codes, same premium parts to the cent, same
cover. Hypothesis generates the risks (mostly valid, some missing or wrong values) for
every edition of every product."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
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
from pricing.inputs import InputSpec
from pricing.loader import load_catalog
from pricing.model import Edition

PRODUCTS = Path(__file__).resolve().parents[2] / "products"
EDITIONS = [e for p in load_catalog(PRODUCTS).products.values() for e in p.editions]

_offsets = st.integers(-12 * 4, 14 * 4).map(lambda q: timezone(timedelta(minutes=15 * q)))
_instants = st.datetimes(datetime(2025, 1, 1), datetime(2032, 12, 31), timezones=_offsets)


def _value(spec: InputSpec, example: Any) -> st.SearchStrategy[Any]:
    """Mostly what the product accepts, sometimes not, sometimes nothing at all."""
    junk = st.sampled_from(["", "bogus", "12.345", "-1", "2026-13-01"])
    if spec.enum is not None:
        good: st.SearchStrategy[Any] = st.sampled_from(list(spec.enum))
    elif spec.type == "datetime":
        good = _instants.map(lambda d: d.isoformat())
    elif spec.type == "date":
        good = st.dates(datetime(2025, 1, 1).date(), datetime(2032, 12, 31).date()).map(
            lambda d: d.isoformat()
        )
    elif spec.type == "money":
        good = st.builds(
            lambda units, cents, cur: {"amount": f"{units}.{cents:02d}", "currency": cur},
            st.integers(0, 120_000),
            st.integers(0, 99),
            st.sampled_from(["CNY", "CNY", "CNY", "USD"]),
        )
    elif spec.type == "integer":
        low = int(spec.minimum) if spec.minimum is not None else -5
        high = int(spec.maximum) if spec.maximum is not None else 500
        good = st.integers(low - 2, high + 2)
    elif spec.type == "decimal":
        good = st.decimals(-10, 10_000, places=2, allow_nan=False).map(str)
    elif spec.type == "boolean":
        good = st.booleans()
    else:
        good = st.sampled_from([example, example, str(example).lower(), "ZZ", "MU5101", "SHA"])
    return st.one_of(good, good, good, good, good, good, good, good, junk, st.none())


def _risks(edition: Edition) -> st.SearchStrategy[list[dict[str, Any]]]:
    fields = {
        s.name: _value(s, edition.example(edition.effective_from).get(s.name, "x"))
        for s in edition.inputs.specs
    }
    risk = st.fixed_dictionaries(fields).map(
        lambda r: {k: v for k, v in r.items() if v is not None}
    )
    return st.lists(risk, min_size=1, max_size=30)


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
    @given(risks=_risks(edition), now=_instants)
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
