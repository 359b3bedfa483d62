"""Date-times as numbers for the batch path: a column of ISO 8601 texts parsed at once into
wall-clock microseconds and UTC offsets, and those numbers turned back into the very
datetime objects the scalar parse makes.

Only texts of the common strict forms are parsed here (YYYY-MM-DDTHH:MM:SS, optionally
.fff or .ffffff, then Z or +HH:MM), with every field range-checked as
datetime.fromisoformat does. Anything else (other ISO forms, odd offsets, out-of-range
fields or years, garbage) is left to the scalar `InputSpec.parse`, which gives the exact
value or the exact message, so the column accepts and refuses what the scalar path does.

A date-time is (local, offset): `local` its wall clock as microseconds since 1970-01-01T00:00
as if it were UTC, `offset` its UTC offset in microseconds; the instant is local - offset.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd

from .input_spec import MAX_YEAR, MIN_YEAR

US_PER_SECOND = 1_000_000
US_PER_MINUTE = 60 * US_PER_SECOND
US_PER_HOUR = 60 * US_PER_MINUTE
US_PER_DAY = 24 * US_PER_HOUR
_EPOCH = datetime(1970, 1, 1)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
#: the wall clocks a datetime can hold (years 1 to 9999)
LOCAL_MIN = (datetime.min - _EPOCH) // timedelta(microseconds=1)
LOCAL_MAX = (datetime.max - _EPOCH) // timedelta(microseconds=1)

#: layouts by length: the digits of the fraction of a second (0: none) and whether the
#: offset is Z (else +HH:MM or -HH:MM)
_LAYOUTS = {
    20: (0, True),
    25: (0, False),
    24: (3, True),
    29: (3, False),
    27: (6, True),
    32: (6, False),
}
_FIXED = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":"}


def days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * np.where(m > 2, m - 3, m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _days_in_month(y: np.ndarray, m: np.ndarray) -> np.ndarray:
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    lengths = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
    return lengths[m] + ((m == 2) & leap)


def _parse_layout(texts: list[str], frac: int, zulu: bool) -> tuple[np.ndarray, ...]:
    """(ok, local, offset) for texts that all have one layout's length."""
    width = len(texts[0])
    chars = np.array(texts, dtype=f"<U{width}").view(np.uint32).reshape(len(texts), width)
    ok = np.ones(len(texts), dtype=bool)
    for i, char in _FIXED.items():
        ok &= chars[:, i] == ord(char)

    def number(*positions: int) -> np.ndarray:
        value = np.zeros(len(texts), dtype=np.int64)
        for i in positions:
            digit = chars[:, i].astype(np.int64) - ord("0")
            ok[:] &= (digit >= 0) & (digit <= 9)
            value = value * 10 + digit
        return value

    year, month, day = number(0, 1, 2, 3), number(5, 6), number(8, 9)
    hour, minute, second = number(11, 12), number(14, 15), number(17, 18)
    micro: Any = 0
    tail = 19
    if frac:
        ok &= chars[:, 19] == ord(".")
        micro = number(*range(20, 20 + frac)) * 10 ** (6 - frac)
        tail = 20 + frac
    ok &= (year >= MIN_YEAR) & (year <= MAX_YEAR) & (month >= 1) & (month <= 12)
    month = np.where(ok, month, 1)
    ok &= (day >= 1) & (day <= _days_in_month(year, month))
    ok &= (hour <= 23) & (minute <= 59) & (second <= 59)
    local = days_from_civil(year, month, np.where(ok, day, 1)) * US_PER_DAY
    local += hour * US_PER_HOUR + minute * US_PER_MINUTE + second * US_PER_SECOND + micro
    if zulu:
        ok &= chars[:, tail] == ord("Z")
        return ok, local, np.zeros(len(texts), dtype=np.int64)
    sign = chars[:, tail]
    ok &= ((sign == ord("+")) | (sign == ord("-"))) & (chars[:, tail + 3] == ord(":"))
    oh, om = number(tail + 1, tail + 2), number(tail + 4, tail + 5)
    ok &= (oh <= 23) & (om <= 59)
    offset = np.where(sign == ord("-"), -1, 1) * (oh * US_PER_HOUR + om * US_PER_MINUTE)
    return ok, local, offset


def parse_iso(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ok, local, offset) per value: ok where the value is a text of a strict common form
    that datetime.fromisoformat accepts, in the years inputs may have; elsewhere the
    caller asks the scalar parse."""
    n = len(values)
    ok = np.zeros(n, dtype=bool)
    local = np.zeros(n, dtype=np.int64)
    offset = np.zeros(n, dtype=np.int64)
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=n)
    else:
        lengths = np.fromiter((len(v) if type(v) is str else -1 for v in values), np.int64, n)
    for width, (frac, zulu) in _LAYOUTS.items():
        where = np.flatnonzero(lengths == width)
        if len(where):
            got = _parse_layout(values[where].tolist(), frac, zulu)
            ok[where], local[where], offset[where] = got
    return ok, local, offset


def from_objects(values: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """(local, offset) of datetimes in plain fixed-offset zones (`timezone(offset)`, as
    fromisoformat makes them), or None when any value is something else."""
    local, offset = [], []
    for v in values:
        tz = v.tzinfo if type(v) is datetime else None
        if type(tz) is not timezone or v.fold:
            return None
        off = tz.utcoffset(None)
        if tz.tzname(None) != timezone(off).tzname(None):
            return None  # a named zone: rebuilding it would lose the name
        local.append((v.replace(tzinfo=None) - _EPOCH) // timedelta(microseconds=1))
        offset.append(off // timedelta(microseconds=1))
    return np.array(local, dtype=np.int64), np.array(offset, dtype=np.int64)


def civil(local: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) of wall clocks."""
    days = (local // US_PER_DAY).astype("M8[D]")
    months = days.astype("M8[M]")
    year = months.astype("M8[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (days - months).astype(np.int64) + 1
    return year, month, day


def to_objects(local: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """The datetimes, each in `timezone(offset)` (timezone.utc for 0), as an object array.

    Each is made from its pickle state (10 bytes: year, month, day, hour, minute, second,
    microsecond; fold 0), as pickle.loads makes a datetime: the fastest way to make many."""
    if not len(local):
        return np.empty(0, dtype=object)
    which, offsets = pd.factorize(offset)
    zones = np.empty(len(offsets), dtype=object)
    zones[:] = [timezone(timedelta(microseconds=int(o))) for o in offsets]
    year, month, day = civil(local)
    rest = local % US_PER_DAY
    micro = rest % US_PER_SECOND
    state = np.empty((len(local), 10), dtype=np.uint8)
    for i, part in enumerate(
        (
            year >> 8,
            year & 255,
            month,
            day,
            rest // US_PER_HOUR,
            rest // US_PER_MINUTE % 60,
            rest // US_PER_SECOND % 60,
            micro >> 16,
            (micro >> 8) & 255,
            micro & 255,
        )
    ):
        state[:, i] = part
    states = state.view("V10").ravel().tolist()  # void items become their bytes
    make: Any = datetime  # datetime(state, tzinfo): the form typeshed does not know
    return np.fromiter(map(make, states, zones[which].tolist()), dtype=object, count=len(local))


def dates_to_objects(days: np.ndarray) -> np.ndarray:
    ordinals = (days + _EPOCH_ORDINAL).tolist()
    return np.fromiter(map(date.fromordinal, ordinals), dtype=object, count=len(days))


def dates_from_objects(values: Any) -> np.ndarray | None:
    if any(type(v) is not date for v in values):
        return None
    return np.array([v.toordinal() - _EPOCH_ORDINAL for v in values], dtype=np.int64)
