"""The batch path with a pricing time per row, what it says the expressions saw (env),
and its frame: columns of the dtypes pandas would infer from the Python values, whatever
the shape of the table."""

from __future__ import annotations

import decimal
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricing import engine
from pricing.batch import PRICED, price_frame
from pricing.batch_columns import of_objects
from pricing.errors import BreakdownError, EvaluationError, InputErrors
from pricing.model import Edition
from tests.risk_strategies import instants as _instants

from .test_batch_pricing import EDITIONS, _risks, _scalar


def _inferred(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame pandas makes of the same Python values, looking at every one of them."""
    columns: dict[str, Any] = {}
    for name in frame.columns:
        column = frame[name]
        if name in ("status", "error", "coverage_start", "coverage_end"):
            values = np.array(column.to_numpy(dtype=object), dtype=object)
            values[pd.isna(values)] = None
            columns[name] = values
        else:
            columns[name] = column.array
    return pd.DataFrame(columns, index=frame.index)


def _same(got: Any, want: Any) -> bool:
    return type(got) is type(want) and got == want and str(got) == str(want)


@pytest.mark.parametrize("edition", EDITIONS, ids=lambda e: e.ref)
def test_a_time_per_row_prices_every_row_as_the_scalar_engine(edition: Edition) -> None:
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(risks=_risks(edition), data=st.data())
    def check(risks: list[dict[str, Any]], data: st.DataObject) -> None:
        times = [data.draw(_instants) for _ in risks]
        frame = pd.DataFrame(risks, index=[f"r{i}" for i in range(len(risks))])
        result = price_frame(edition, frame, times)
        pd.testing.assert_frame_equal(result.frame, _inferred(result.frame))
        for i, (risk, now) in enumerate(zip(risks, times, strict=True)):
            row = result.frame.iloc[i]
            want = _scalar(edition, risk, now)
            if row["status"] != PRICED:
                assert (row["status"], row["error"]) == want, risk
            else:
                premium = result.premium(i)
                assert premium is not None
                got = (PRICED, *premium.values(), row["coverage_start"], row["coverage_end"])
                assert got == want, risk
            try:
                priced = engine.price(edition, edition.inputs.parse(risk), now)
            except (InputErrors, EvaluationError, BreakdownError):
                continue
            for name, value in priced.env.items():
                assert _same(result.env[name][i], value), (name, risk)

    check()


def _flights(edition: Edition, count: int, offsets: list[int]) -> pd.DataFrame:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    zones = [timezone(timedelta(hours=h)) for h in offsets]
    departures = [now + timedelta(hours=3, minutes=37 * k) for k in range(count)]
    return pd.DataFrame(
        {
            **edition.example(now),
            "scheduled_departure": [
                d.astimezone(zones[k % len(zones)]).isoformat() for k, d in enumerate(departures)
            ],
        },
        index=pd.Index(np.arange(count) * 2 + 7),
    )


@pytest.mark.parametrize("offsets", [[8], [-5, -4], [0]], ids=str)
@pytest.mark.parametrize("edition", EDITIONS, ids=lambda e: e.ref)
def test_the_frame_has_the_dtypes_pandas_infers(edition: Edition, offsets: list[int]) -> None:
    frame = (
        _flights(edition, 300, offsets)
        if "scheduled_departure" in edition.inputs.by_name
        else (pd.DataFrame([edition.example(datetime(2026, 12, 1, tzinfo=UTC))] * 300))
    )
    result = price_frame(edition, frame, datetime(2026, 12, 1, tzinfo=UTC))
    pd.testing.assert_frame_equal(result.frame, _inferred(result.frame))
    assert list(result.frame.index) == list(frame.index)
    empty = price_frame(edition, frame.iloc[:0], datetime(2026, 12, 1, tzinfo=UTC))
    assert len(empty.frame) == 0
    pd.testing.assert_frame_equal(empty.frame, _inferred(empty.frame))


def test_pandas_keeps_datetimes_of_two_offsets_as_objects() -> None:
    # the batch path relies on it to skip pandas' look at every value of the cover
    values = np.array(
        [
            datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-5))),
            None,
            datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-4))),
        ],
        dtype=object,
    )
    assert pd.DataFrame({"c": values})["c"].dtype == object


_moments = st.sampled_from(
    [datetime(2026, 1, 1, 8), datetime(2026, 1, 1, 8, 0, 0, 1), datetime(2026, 1, 1, 0)]
)
_zones = st.sampled_from([None, UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-8))])


@settings(max_examples=200, deadline=None)
@given(
    moments=st.lists(
        st.tuples(_moments, _zones, st.booleans()).map(
            lambda p: (
                (p[0] if p[1] is None else p[0].replace(tzinfo=p[1]).astimezone(UTC))
                if p[2]
                else p[0].replace(tzinfo=p[1])
            )
        ),
        min_size=1,
        max_size=12,
    )
)
def test_times_per_row_are_told_apart_as_their_iso_texts(moments: list[datetime]) -> None:
    # the same instant in two offsets is two times (hour() reads the offset)
    values = np.empty(len(moments), dtype=object)
    values[:] = moments
    codes = of_objects(values).codes
    texts = [m.isoformat() for m in moments]
    for i in range(len(moments)):
        for j in range(len(moments)):
            assert (codes[i] == codes[j]) == (texts[i] == texts[j]), (moments[i], moments[j])


def test_env_is_what_the_expressions_saw_whatever_the_context_it_is_read_in() -> None:
    # env is made when first read; hours_between's quotients still in the engine's context
    edition = next(e for e in EDITIONS if "scheduled_departure" in e.inputs.by_name)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    frame = _flights(edition, 60, [-5, 8])
    result = price_frame(edition, frame, now)
    with decimal.localcontext(decimal.Context(prec=5, rounding=decimal.ROUND_DOWN)):
        env = result.env
    assert result.env is env
    for i, risk in enumerate(frame.to_dict("records")):
        priced = engine.price(edition, edition.inputs.parse(risk), now)
        for name, value in priced.env.items():
            assert _same(env[name][i], value), (name, risk)
