"""The batch path parses a column of date-times at once (pricing/batch_datetimes.py) and
must accept and refuse exactly what the scalar parse does, with the same values and the
same messages; the datetimes it makes back from numbers must be the scalar ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing import batch_datetimes as bd
from pricing.batch_columns import input_column
from pricing.errors import InputError
from pricing.inputs import InputSpec

SPEC = InputSpec("departure", "datetime")


def _scalar(value: Any) -> tuple[str, Any]:
    try:
        return ("ok", SPEC.parse(value, "risk.departure"))
    except InputError as exc:
        return ("error", str(exc))


def _batch(values: list[Any], as_text: bool) -> list[tuple[str, Any]]:
    series = pd.Series(values, dtype="str" if as_text else object)
    column, problems = input_column(SPEC, series, len(values))
    out = []
    for code in column.codes.tolist():
        if code in problems:
            out.append(("error", problems[code]))
        else:
            out.append(("ok", column.objects[code]))
    return out


def _same(got: tuple[str, Any], want: tuple[str, Any]) -> bool:
    if got[0] != want[0] or want[0] == "error":
        return got == want
    a, b = got[1], want[1]
    return (
        type(a) is type(b)
        and a == b
        and a.isoformat() == b.isoformat()
        and a.tzinfo == b.tzinfo
        and a.tzinfo.tzname(None) == b.tzinfo.tzname(None)
    )


_OFFSETS = [
    "Z", "z", "+08:00", "-05:00", "+05:45", "-00:00", "+23:59", "+24:00", "+05:75",
    "+0545", "+05", "", "+05:45:30", "+5:45", "-12:00", "+14:00", " +08:00",
]  # fmt: skip
_parts = st.tuples(
    st.sampled_from(["2026", "2200", "2201", "1900", "1899", "0000", "9999", "202", "20261"]),
    st.sampled_from(["01", "02", "12", "13", "00", "1"]),
    st.sampled_from(["01", "28", "29", "30", "31", "32", "00"]),
    st.sampled_from(["T", " ", "t"]),
    st.sampled_from(["00", "08", "23", "24"]),
    st.sampled_from(["00", "30", "59", "60"]),
    st.sampled_from([":00", ":59", ":60", "", ":5"]),
    st.sampled_from(["", ".1", ".123", ".123456", ".1234567", ",123456", "."]),
    st.sampled_from(_OFFSETS),
)
_texts = _parts.map("".join)
_instants = st.datetimes(
    datetime(1890, 1, 1), datetime(2210, 12, 31), timezones=st.just(UTC)
).flatmap(
    lambda d: st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
        lambda m: d.astimezone(timezone(timedelta(minutes=m)))
    )
)
_canonical = st.tuples(_instants, st.sampled_from(["seconds", "milliseconds", "microseconds"])).map(
    lambda p: p[0].isoformat(timespec=p[1])
)
_values = st.one_of(
    _texts,
    _canonical,
    _canonical.map(lambda s: s.replace("+00:00", "Z")),
    st.text(max_size=32),
    _canonical.flatmap(lambda s: st.integers(0, len(s) - 1).map(lambda i: s[:i] + s[i + 1 :])),
    _canonical.map(lambda s: s + "\x00"),
    _canonical.map(lambda s: s.replace("1", "\u0661")),  # an Arabic-Indic digit
    st.integers(-5, 5),
    st.none(),
    st.sampled_from([1.5, True, b"2026-01-01T00:00:00Z"]),
)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(_values, min_size=1, max_size=40))
def test_a_column_of_date_times_parses_as_the_scalar_parse(values: list[Any]) -> None:
    want = [
        _scalar(v) if v is not None else ("error", "risk.departure: is required") for v in values
    ]
    assert all(_same(got, w) for got, w in zip(_batch(values, as_text=False), want, strict=True)), (
        values
    )
    texts = [v for v in values if isinstance(v, str) or v is None]
    if texts:
        want = [w for v, w in zip(values, want, strict=True) if isinstance(v, str) or v is None]
        got = _batch(texts, as_text=True)
        assert all(_same(g, w) for g, w in zip(got, want, strict=True)), texts


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(_canonical, min_size=1, max_size=30))
def test_the_common_forms_are_parsed_at_once(texts: list[str]) -> None:
    # within the years inputs may have, every common form takes the numpy path (no
    # silent fall back to the scalar parse, which would be right but slow)
    ok, local, offset = bd.parse_iso(np.array(texts, dtype=object))
    for text, fast, loc, off in zip(texts, ok, local.tolist(), offset.tolist(), strict=True):
        value = datetime.fromisoformat(text)
        assert fast == (1900 <= value.year <= 2200), text
        if fast:
            made = bd.to_objects(np.array([loc]), np.array([off]))[0]
            assert (made, made.isoformat()) == (value, value.isoformat()), text


@pytest.mark.parametrize("count", [0, 1, 5])
def test_an_empty_or_small_column(count: int) -> None:
    values = ["2027-07-15T08:00:00+08:00"] * count
    assert _batch(values, as_text=True) == [_scalar(v) for v in values]


_zones = st.builds(
    lambda minutes, seconds, micro: timezone(
        timedelta(minutes=minutes, seconds=seconds, microseconds=micro)
    ),
    st.integers(-23 * 60, 23 * 60),
    st.sampled_from([0, 0, 0, 17]),
    st.sampled_from([0, 0, 0, 5]),
)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.datetimes(timezones=_zones).map(lambda d: d.replace(fold=0)), min_size=1, max_size=30
    )
)
def test_datetimes_made_back_from_numbers_are_the_same_datetimes(values: list[datetime]) -> None:
    got = bd.from_objects(values)
    assert got is not None
    back = bd.to_objects(*got)
    for a, b in zip(values, back, strict=True):
        assert type(b) is datetime and b.fold == 0
        assert (a, a.isoformat(), a.tzinfo, a.tzname()) == (b, b.isoformat(), b.tzinfo, b.tzname())


def test_only_plain_fixed_offsets_are_typed() -> None:
    from zoneinfo import ZoneInfo

    named = timezone(timedelta(hours=8), "CST")
    for odd in (
        datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai")),
        datetime(2026, 1, 1, tzinfo=named),
        datetime(2026, 1, 1),
        datetime(2026, 1, 1, fold=1, tzinfo=UTC),
        pd.Timestamp("2026-01-01T00:00:00Z"),
    ):
        assert bd.from_objects([datetime(2026, 1, 1, tzinfo=UTC), odd]) is None, odd
