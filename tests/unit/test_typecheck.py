"""The type checker refuses, at load, what would fail when a rule runs."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from pricing.expressions import compile_expression
from pricing.typecheck import (
    BOOL,
    DATETIME,
    NUMBER,
    T_DATE,
    T_DATETIME,
    T_NUMBER,
    T_STRING,
    Type,
    check,
)

SCOPE = {
    "now": T_DATETIME,
    "departure": T_DATETIME,
    "delivery_date": T_DATE,
    "cost": T_NUMBER,
    "delay": Type(NUMBER, optional=True),
    "carrier": T_STRING,
    "status": Type("text", values=("delayed", "cancelled")),
}


def errors(source: str, want: str = BOOL) -> list[str]:
    expr = compile_expression(source, SCOPE.keys(), ZoneInfo("Asia/Shanghai"))
    return check(expr, SCOPE, want)


@pytest.mark.parametrize(
    ("source", "want"),
    [
        ("now < departure - hours(2)", BOOL),
        ("now < start_of_day(delivery_date)", BOOL),
        ('status == "cancelled" or delay >= 120', BOOL),
        ("delay >= 0 and departure + minutes(delay) <= now", BOOL),
        ("departure + minutes(delay) if delay >= 0 else now", DATETIME),
        ("min(cost, 25.00)", NUMBER),
        ("cost * 0.8 + 1", NUMBER),
        ('carrier in ["MU", "CA"]', BOOL),
        ('status in ["delayed"]', BOOL),
        ("days_between(date(now), delivery_date) > 30", BOOL),
        ("hours_between(now, departure) / 24 > 365", BOOL),
        ("end_of_day(delivery_date + days(7)) - now <= days(40)", BOOL),
        ("true", BOOL),
        ("25", NUMBER),
    ],
)
def test_well_typed(source: str, want: str) -> None:
    assert errors(source, want) == []


@pytest.mark.parametrize(
    ("source", "want", "says"),
    [
        ("now < delivery_date", BOOL, "cannot compare date-time with date"),
        ("departure + 2", DATETIME, "cannot compute date-time + number"),
        ('status == "canceled"', BOOL, "'canceled' is not a value of status"),
        ('status in ["delayed", "canceled"]', BOOL, "'canceled' is not a value of status"),
        ("carrier", BOOL, "gives text"),
        ("carrier", NUMBER, "gives text"),
        ("cost > 1 and carrier", BOOL, "'carrier' is text, not true/false"),
        ("departure + minutes(delay) <= now", BOOL, "'delay' may be absent"),
        ("cost == None", BOOL, "always false"),
        ("hour(delivery_date)", NUMBER, "hour() takes (date-time)"),
        ("min(cost, now)", NUMBER, "needs two values of one kind"),
        ("cost if cost > 1 else now", NUMBER, "the two branches give number and date-time"),
        ('carrier in "MU"', BOOL, "needs a list"),
        ('[1, "a"]', BOOL, "a list mixes"),
        ("-carrier", NUMBER, "cannot negate text"),
        ("delay", NUMBER, "may give nothing"),
    ],
)
def test_ill_typed(source: str, want: str, says: str) -> None:
    found = errors(source, want)
    assert found and says in found[0], found


def test_errors_name_the_column() -> None:
    (error,) = errors("cost > 1 and now < delivery_date")
    assert "at column 14" in error
