"""Hypothesis strategies for risks of any product edition, read from its declared inputs:
mostly values the product accepts, sometimes wrong ones, sometimes none at all."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from pricing.inputs import InputSpec
from pricing.model import Edition

#: UTC offsets in quarter hours, as partners send them
offsets = st.integers(-12 * 4, 14 * 4).map(lambda q: timezone(timedelta(minutes=15 * q)))
instants = st.datetimes(datetime(2025, 1, 1), datetime(2032, 12, 31), timezones=offsets)


def value(spec: InputSpec, example: Any) -> st.SearchStrategy[Any]:
    """Mostly what the input accepts, sometimes not, sometimes nothing at all."""
    junk = st.sampled_from(["", "bogus", "12.345", "-1", "2026-13-01"])
    if spec.enum is not None:
        good: st.SearchStrategy[Any] = st.sampled_from(list(spec.enum))
    elif spec.type == "datetime":
        good = instants.map(lambda d: d.isoformat())
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


def risk(edition: Edition) -> st.SearchStrategy[dict[str, Any]]:
    """One risk for `edition` as a partner would send it (JSON values)."""
    fields = {
        s.name: value(s, edition.example(edition.effective_from).get(s.name, "x"))
        for s in edition.inputs.specs
    }
    return st.fixed_dictionaries(fields).map(
        lambda r: {k: v for k, v in r.items() if v is not None}
    )
