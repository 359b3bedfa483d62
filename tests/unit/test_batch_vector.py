"""The numpy form of expressions (pricing/vector.py) gives, element for element, exactly
what the scalar evaluation gives: the same value of the same type, or Unsupported (and
the batch path then evaluates the scalar way). It never gives a value where the scalar
evaluation fails."""

from __future__ import annotations

import dataclasses
import decimal
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricing import engine
from pricing.batch import price_frame
from pricing.expressions import compile_expression
from pricing.loader import load_catalog
from pricing.vector import compile_vector
from pricing.vector_ops import DEC, TD, Unsupported, from_values

TZ = ZoneInfo("Asia/Shanghai")
NAMES = ("t", "u", "d", "e", "i", "j", "b", "s", "x")
SOURCES = [
    # date-times and dates
    "month(t)", "weekday(t)", "hour(t)", "date(t)", "month(d)", "weekday(d)", "date(d)",
    "hours_between(t, u)", "days_between(t, u)", "days_between(d, e)", "hours_between(d, e)",
    "hours_between(t, u) < 2", "hours_between(t, u) > 365 * 24", "hours_between(t, u) >= 1.5",
    "days_between(d, e) == 3", "hours_between(t, u) <= i", "hours_between(t, u) == x",
    "hours_between(t, u) < hours_between(u, t)", "days_between(date(t), d) > 30",
    "t + days(2)", "t - hours(24)", "max(t, u - hours(24))", "min(t, u)", "max(u, t)",
    "t + hours(i)", "t + minutes(j)", "d + days(i)", "d - hours(j)", "d + hours(36)",
    "d - hours(1)", "hours(1) + d", "t - u", "d - e", "t - u > hours(3)", "(t - u) < minutes(i)",
    "t + hours(1.5)", "hours(0.1) < minutes(6)", "t < u", "t == u", "t != u", "d < e",
    "d == e", "t if b else u", "abs(t - u) <= days(1)", "-(t - u) > hours(1)",
    "now < t - hours(2)", "max(now, t - hours(24))", "hours_between(now, t) < 2",
    # numbers, texts, booleans
    "i + j", "i - j", "i * j", "-i", "abs(i)", "min(i, j)", "max(i, j)", "i < j", "i == 3",
    "i in [1, 2, 3]", "i not in [1, 2]", "s in ['a', 'b']", "s not in ['a']", "s == 'a'",
    "s != s", "s < 'm'", "b and i > 0", "b or not b", "not b", "i if b else j",
    "x > 5000", "x <= 0.1", "x == i", "1 < i < 10", "i < j < 10", "b == true", "b != false",
    "b < true", "i and j", "not i", "i * 1000000000000 * 1000000000",
    # what the numpy form leaves to the scalar way (or the scalar way refuses)
    "i / 2", "x + 1", "start_of_day(d)", "end_of_day(d + days(7)) <= now", "hours_between(t, d)",
    "t < d", "t == d", "i == b", "s + s", "s if b else i", "i in [s, 'a']", "days(x)",
    "hours_between(t, u) * 2", "x if b else x", "t + d",
]  # fmt: skip
_zones = st.integers(-14 * 4, 14 * 4).map(lambda q: timezone(timedelta(minutes=15 * q)))
_times = st.one_of(
    st.datetimes(datetime(1900, 1, 1), datetime(2200, 12, 31), timezones=_zones),
    st.datetimes(timezones=_zones),  # near datetime's limits too
    st.datetimes(timezones=st.just(timezone(timedelta(seconds=19815, microseconds=500)))),
).map(lambda d: d.replace(fold=0))
_dates = st.one_of(st.dates(date(1900, 1, 1), date(2200, 12, 31)), st.dates())
_ints = st.one_of(st.integers(-50, 50), st.integers(-(2**70), 2**70))
_decimals = st.decimals(-10_000, 10_000, places=3, allow_nan=False).map(lambda x: x.normalize())
_texts = st.sampled_from(["a", "b", "m", "z", "", "ab"])
_KINDS = {"t": _times, "u": _times, "d": _dates, "e": _dates, "i": _ints, "j": _ints}
_KINDS.update({"b": st.booleans(), "s": _texts, "x": _decimals, "now": _times})


def _scalar(expr: Any, env: dict[str, Any]) -> tuple[str, Any]:
    try:
        return ("ok", expr.evaluate(env))
    except Exception as exc:  # the scalar way fails here: the numpy form must not answer
        return ("error", type(exc).__name__)


def _as_python(kind: str, a: Any, den: int) -> Any:
    if kind == TD:
        return timedelta(microseconds=int(a))
    assert kind == DEC
    return Decimal(int(a)) / Decimal(den)


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, datetime):
        return type(got) is datetime and (got, got.isoformat(), got.utcoffset()) == (
            want,
            want.isoformat(),
            want.utcoffset(),
        )
    return type(got) is type(want) and got == want and str(got) == str(want)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def _check(source: str, data: st.DataObject) -> None:
    expr = compile_expression(source, (*NAMES, "now"), TZ)
    rows = data.draw(st.integers(1, 12))
    columns = {n: [data.draw(_KINDS[n]) for _ in range(rows)] for n in sorted(expr.names)}
    vecs = {n: from_values(v) for n, v in columns.items()}
    compiled = compile_vector(expr)
    with decimal.localcontext(engine._CONTEXT):
        want = [_scalar(expr, {n: columns[n][k] for n in columns}) for k in range(rows)]
        if compiled is None or any(v is None for v in vecs.values()):
            return
        try:
            vec = compiled(vecs, rows)  # type: ignore[arg-type]
            got = (
                vec.objects()
                if vec.kind not in (TD, DEC)
                else [_as_python(vec.kind, a, vec.den) for a in vec.a.tolist()]
            )
        except Unsupported:
            return
    assert all(w[0] == "ok" for w in want), (source, columns, want)
    for g, (_, w) in zip(got, want, strict=True):
        if vec.kind == DEC:
            assert g == w, (source, columns)  # a decimal's value (its exponent is not kept)
        else:
            assert _same(g, w), (source, columns, g, w)


@pytest.mark.parametrize("source", SOURCES)
def test_each_expression_in_numpy_is_the_scalar_evaluation(source: str) -> None:
    _check(source)  # type: ignore[call-arg]


PRODUCTS = Path(__file__).resolve().parents[2] / "products"
FLIGHTS = [e for e in load_catalog(PRODUCTS).products["flight_delay"].editions]


def _no_scalar(expr: Any) -> Any:
    def refuse(*args: Any) -> Any:
        raise AssertionError(f"{expr.source} evaluated the scalar way")

    return dataclasses.replace(expr, evaluate=refuse, columns=refuse)


@pytest.mark.parametrize("edition", FLIGHTS, ids=lambda e: e.ref)
def test_flight_delay_prices_without_evaluating_its_expressions_the_scalar_way(
    edition: Any,
) -> None:
    # the derived values, the eligibility rules and the cover all run in numpy for a
    # book of flights: same result as with the scalar way at hand
    numpy_only = dataclasses.replace(
        edition,
        derived=tuple(dataclasses.replace(d, expr=_no_scalar(d.expr)) for d in edition.derived),
        eligibility=tuple(
            dataclasses.replace(r, refuse_when=_no_scalar(r.refuse_when))
            for r in edition.eligibility
        ),
        coverage_starts=_no_scalar(edition.coverage_starts),
        coverage_ends=_no_scalar(edition.coverage_ends),
    )
    now = datetime(2026, 12, 1, tzinfo=UTC)
    departures = pd.date_range("2026-12-01T01:30", periods=2000, freq="97min", tz="UTC")
    offsets = [timezone(timedelta(hours=h)) for h in (-5, -4, 8)]
    risks = pd.DataFrame(
        {
            **edition.example(now),
            "scheduled_departure": [
                d.to_pydatetime().astimezone(offsets[k % 3]).isoformat()
                for k, d in enumerate(departures)
            ],
        }
    )
    got = price_frame(numpy_only, risks, now)
    want = price_frame(edition, risks, now)
    pd.testing.assert_frame_equal(got.frame, want.frame)
    assert set(got.frame["status"]) >= {"priced", "refused"}
    times = np.array([now + timedelta(minutes=k) for k in range(len(risks))], dtype=object)
    pd.testing.assert_frame_equal(
        price_frame(numpy_only, risks, times).frame, price_frame(edition, risks, times).frame
    )
