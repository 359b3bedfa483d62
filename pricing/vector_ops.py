"""Typed columns of distinct values and their operations, for the numpy form of
expressions (pricing/vector.py): integers, booleans, texts, date-times (wall clock and UTC
offset in microseconds), durations, dates, exact decimals and the rounded quotients of
hours_between/days_between.

Every operation gives exactly what the scalar evaluation gives for each element, or raises
Unsupported: a kind it does not know, a possible overflow, a value out of datetime's range,
a rounded quotient it cannot compare exactly. Errors are never reported from here; the
caller evaluates the expression the scalar way instead.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from itertools import repeat
from typing import Any

import numpy as np

from . import batch_datetimes as bd

INT, BOOL, STR, DT, TD, DATE, DEC, RATIO = (
    "int", "bool", "str", "datetime", "timedelta", "date", "decimal", "ratio"
)  # fmt: skip
LIMIT = 2**62  # integers kept well inside int64, so a sum of two never overflows


class Unsupported(Exception):
    """This expression (or these values) cannot be evaluated exactly over columns."""


@dataclass(frozen=True)
class Vec:
    """Typed values. `a`: int64 for INT, DT (wall clock), TD, DATE (days since 1970),
    DEC and RATIO (numerators); bool for BOOL; object (str) for STR. DT's `off` is the
    UTC offset. DEC is exactly a / den; RATIO is Decimal(a) / Decimal(den) rounded in the
    engine's context (what hours_between returns)."""

    kind: str
    a: np.ndarray
    off: np.ndarray | None = None
    den: int = 1

    def __len__(self) -> int:
        return len(self.a)

    def take(self, index: np.ndarray) -> Vec:
        off = None if self.off is None else self.off[index]
        return Vec(self.kind, self.a[index], off, self.den)

    def parts(self) -> list[np.ndarray]:
        """Equal (all of them) where the values are the same (DT: at the same offset)."""
        return [self.a] if self.off is None else [self.a, self.off]

    def instant(self) -> np.ndarray:
        assert self.off is not None
        return self.a - self.off

    def objects(self) -> np.ndarray:
        """The Python values the scalar evaluation gives, as an object array."""
        out = np.empty(len(self.a), dtype=object)
        if self.kind in (INT, BOOL, STR):
            out[:] = self.a.tolist()
        elif self.kind == DT:
            assert self.off is not None
            return bd.to_objects(self.a, self.off)
        elif self.kind == DATE:
            return bd.dates_to_objects(self.a)
        elif self.kind == RATIO:
            quotients = map(
                Decimal.__truediv__, map(Decimal, self.a.tolist()), repeat(Decimal(self.den))
            )
            return np.fromiter(quotients, dtype=object, count=len(self.a))
        else:
            # a timedelta or a decimal of unknown exponent: left to the scalar path
            raise Unsupported(self.kind)
        return out


def bound(a: np.ndarray) -> int:
    return int(np.abs(a).max()) if len(a) else 0


def checked(kind: str, a: np.ndarray, largest: int) -> Vec:
    """A Vec of integers whose magnitudes are at most `largest`, if that fits."""
    if largest >= LIMIT:
        raise Unsupported("too large for int64")
    return Vec(kind, a)


def _local(a: np.ndarray) -> np.ndarray:
    if len(a) and (a.min() < bd.LOCAL_MIN or a.max() > bd.LOCAL_MAX):
        raise Unsupported("date value out of range")
    return a


def from_values(values: Any) -> Vec | None:
    """The typed column of Python values, or None when they are not all of one kind that
    this module evaluates exactly."""
    values = list(values)
    kinds = {type(v) for v in values}
    if len(kinds) != 1:
        return None if kinds else Vec(INT, np.zeros(0, dtype=np.int64))
    kind = kinds.pop()
    if kind is int:
        if max(map(abs, values)) >= LIMIT:
            return None
        return Vec(INT, np.array(values, dtype=np.int64))
    if kind is bool:
        return Vec(BOOL, np.array(values, dtype=bool))
    if kind is str:
        texts = np.empty(len(values), dtype=object)
        texts[:] = values
        return Vec(STR, texts)
    if kind is Decimal:
        return _decimals(values)
    if kind is datetime:
        got = bd.from_objects(values)
        return None if got is None else Vec(DT, got[0], got[1])
    if kind is date:
        days = bd.dates_from_objects(values)
        return None if days is None else Vec(DATE, days)
    return None


def _decimals(values: list[Decimal]) -> Vec | None:
    """Exact decimals on a common scale (comparisons only: their exponents are lost)."""
    parts = [v.as_tuple() for v in values]
    if any(not isinstance(p.exponent, int) for p in parts):
        return None  # NaN or infinity
    exponents = [int(p.exponent) for p in parts]
    scale = max(0, *(-e for e in exponents))
    if scale > 18 or max(exponents) + scale > 18:
        return None  # beyond int64 anyway (and 10**huge would take long to make)
    numbers = []
    for p, exponent in zip(parts, exponents, strict=True):
        coefficient = int("".join(map(str, p.digits)) or "0")
        number = coefficient * 10 ** (exponent + scale)
        numbers.append(-number if p.sign else number)
    if max(map(abs, numbers)) >= LIMIT:
        return None
    return Vec(DEC, np.array(numbers, dtype=np.int64), den=10**scale)


# -- comparisons -----------------------------------------------------------------------
_NUMBERS = (INT, DEC, RATIO)
ORDER: dict[type, Callable[[Any, Any], np.ndarray]] = {
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
}


def comparable(x: Vec, y: Vec) -> tuple[np.ndarray, np.ndarray]:
    """Two int64 (or object) arrays that order as the values do."""
    if x.kind == RATIO and y.kind == RATIO and x.den == y.den:
        # over one denominator, int64 numerators (19 digits) round to 28 digits apart
        return x.a, y.a
    if x.kind in _NUMBERS and y.kind in _NUMBERS:
        bx, by = bound(x.a), bound(y.a)
        if bx * y.den >= 2**63 or by * x.den >= 2**63:
            raise Unsupported("too large to compare exactly")
        if RATIO in (x.kind, y.kind) and max(bx * y.den, by * x.den) >= 10**27:
            # a quotient rounded to 28 digits may round onto the other value
            raise Unsupported("a rounded quotient too close to call")
        return x.a * y.den, y.a * x.den
    if x.kind != y.kind or x.kind not in (BOOL, STR, DT, TD, DATE):
        raise Unsupported(f"comparing {x.kind} with {y.kind}")
    if x.kind == DT:
        return x.instant(), y.instant()  # aware datetimes compare as instants
    return x.a, y.a


def member(x: Vec, items: list[Any], negate: bool) -> Vec:
    if x.kind == STR and all(type(i) is str for i in items):
        wanted = set(items)
        hit = np.fromiter((v in wanted for v in x.a), dtype=bool, count=len(x.a))
    elif x.kind == INT and all(type(i) is int and abs(i) < LIMIT for i in items):
        hit = np.isin(x.a, np.array(items, dtype=np.int64))
    else:
        raise Unsupported("membership")
    return Vec(BOOL, ~hit if negate else hit)


def truth(x: Vec) -> np.ndarray:
    """bool(value) per element."""
    if x.kind == BOOL:
        return x.a
    if x.kind == INT:
        return x.a != 0
    raise Unsupported(f"truth of {x.kind}")


# -- arithmetic and functions ----------------------------------------------------------
def add(x: Vec, y: Vec, sign: int) -> Vec:
    kinds = (x.kind, y.kind)
    if kinds == (INT, INT):
        return checked(INT, x.a + sign * y.a, bound(x.a) + bound(y.a))
    if kinds == (TD, TD):
        return checked(TD, x.a + sign * y.a, bound(x.a) + bound(y.a))
    if kinds == (DT, TD) or (kinds == (TD, DT) and sign == 1):
        d, t = (x, y) if x.kind == DT else (y, x)  # |wall clock| < 2**58, |t| < 2**62
        return Vec(DT, _local(d.a + sign * t.a), d.off)
    if kinds == (DATE, TD) or (kinds == (TD, DATE) and sign == 1):
        d, t = (x, y) if x.kind == DATE else (y, x)
        # date +/- timedelta adds or takes away the timedelta's .days (floored)
        result = d.a + sign * (t.a // bd.US_PER_DAY)
        _local(result * bd.US_PER_DAY)
        return Vec(DATE, result)
    if sign == -1 and kinds == (DT, DT):
        return Vec(TD, x.instant() - y.instant())
    if sign == -1 and kinds == (DATE, DATE):
        return Vec(TD, (x.a - y.a) * bd.US_PER_DAY)
    raise Unsupported(f"{x.kind} {'+' if sign == 1 else '-'} {y.kind}")


def _duration(unit: int) -> Callable[[Vec], Vec]:
    def make(x: Vec) -> Vec:
        if x.kind == INT:
            return checked(TD, x.a * unit, bound(x.a) * unit)
        if x.kind == DEC and len(x.a) and (x.a == x.a[0]).all():
            # the scalar rule, int(Decimal * unit), once for the one value
            number = Decimal(int(x.a[0])) / Decimal(x.den) * unit
            return checked(TD, np.full(len(x.a), int(number), dtype=np.int64), abs(int(number)))
        raise Unsupported(f"a duration of {x.kind}")

    return make


def _between(unit: int) -> Callable[[Vec, Vec], Vec]:
    def between(x: Vec, y: Vec) -> Vec:
        if x.kind == DT and y.kind == DT:
            return Vec(RATIO, y.instant() - x.instant(), den=unit)
        if x.kind == DATE and y.kind == DATE:
            return Vec(RATIO, (y.a - x.a) * bd.US_PER_DAY, den=unit)
        raise Unsupported(f"time between {x.kind} and {y.kind}")

    return between


def _days(x: Vec) -> np.ndarray:
    if x.kind == DT:
        return x.a // bd.US_PER_DAY
    if x.kind == DATE:
        return x.a
    raise Unsupported(f"a date of {x.kind}")


def _hour(x: Vec) -> Vec:
    if x.kind != DT:
        raise Unsupported(f"hour of {x.kind}")
    return Vec(INT, x.a // bd.US_PER_HOUR % 24)


def _extreme(pick_right: Callable[[Any, Any], np.ndarray]) -> Callable[[Vec, Vec], Vec]:
    """min/max(a, b): a unless b is strictly smaller/larger, as Python's min and max."""

    def extreme(x: Vec, y: Vec) -> Vec:
        if x.kind != y.kind or x.den != y.den or x.kind not in (INT, DT, TD, DATE, RATIO):
            raise Unsupported(f"min/max of {x.kind} and {y.kind}")
        right = pick_right(*comparable(y, x))
        off = None if x.off is None or y.off is None else np.where(right, y.off, x.off)
        return replace(x, a=np.where(right, y.a, x.a), off=off)

    return extreme


def _abs(x: Vec) -> Vec:
    if x.kind not in (INT, TD):
        raise Unsupported(f"abs of {x.kind}")
    return replace(x, a=np.abs(x.a))


CALLS: dict[str, Callable[..., Vec]] = {
    "month": lambda x: Vec(INT, bd.civil(_days(x) * bd.US_PER_DAY)[1]),
    "weekday": lambda x: Vec(INT, (_days(x) + 3) % 7 + 1),  # 1970-01-01 was a Thursday
    "hour": _hour,
    "date": lambda x: Vec(DATE, _days(x)),
    "days": _duration(bd.US_PER_DAY),
    "hours": _duration(bd.US_PER_HOUR),
    "minutes": _duration(bd.US_PER_MINUTE),
    "hours_between": _between(bd.US_PER_HOUR),
    "days_between": _between(bd.US_PER_DAY),
    "min": _extreme(np.less),
    "max": _extreme(np.greater),
    "abs": _abs,
}
