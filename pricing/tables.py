"""Tables compiled for lookup: a rating factor by exact keys (a dict) or by range bands
(sorted arrays); a derived value by exact keys (ValueTable)."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .errors import EvaluationError


def key_text(value: Any) -> str:
    """The text a table cell must hold to match `value` (tables are text files)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def value_key(value: Any) -> str | None:
    """The text of a derived value's lookup key; an absent value (None) matches no row,
    not even a row that says "None"."""
    return None if value is None else key_text(value)


@dataclass(frozen=True)
class Hit:
    value: Decimal
    source: str  # "file:line", or "default"


@dataclass(frozen=True)
class ExactTable:
    """Factor by one or more exact keys, e.g. (category) or (category, buyer_band)."""

    file: str
    keys: tuple[str, ...]
    rows: dict[tuple[str, ...], Hit]
    default: Decimal | None

    def lookup(self, env: dict[str, Any]) -> Hit:
        key = tuple(key_text(env[k]) for k in self.keys)
        hit = self.rows.get(key)
        if hit is not None:
            return hit
        if self.default is not None:
            return Hit(self.default, "default")
        raise EvaluationError(f"{self.file}: no row for {dict(zip(self.keys, key, strict=True))}")


@dataclass(frozen=True)
class BandTable:
    """Factor by a numeric value falling in [from, to); bands neither overlap nor leave gaps."""

    file: str
    key: str
    lowers: tuple[Decimal, ...]  # sorted; the first may be -infinity
    uppers: tuple[Decimal, ...]  # matching exclusive upper bounds; the last may be +infinity
    hits: tuple[Hit, ...]
    default: Decimal | None

    def lookup(self, env: dict[str, Any]) -> Hit:
        raw = env[self.key]
        value = getattr(raw, "amount", raw)  # money is banded on its amount
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise EvaluationError(f"{self.file}: band key {self.key} is not a number: {raw!r}")
        i = bisect_right(self.lowers, value) - 1
        if i >= 0 and value < self.uppers[i]:
            return self.hits[i]
        if self.default is not None:
            return Hit(self.default, "default")
        raise EvaluationError(f"{self.file}: {self.key}={value} falls in no band")


Table = ExactTable | BandTable


@dataclass(frozen=True)
class ValueTable:
    """A derived value by one or more exact keys, e.g. a route's band by (origin,
    destination): the rows' values are typed as the derived value is declared."""

    file: str
    keys: tuple[str, ...]
    rows: dict[tuple[str, ...], Any]  # never None
    default: Any  # None: every key the inputs can take has a row (checked at load)

    def lookup(self, env: dict[str, Any]) -> Any:
        key = tuple(value_key(env[k]) for k in self.keys)
        value = self.rows.get(key)  # type: ignore[arg-type]  # a None never matches
        if value is not None:
            return value
        if self.default is not None:
            return self.default
        shown = dict(zip(self.keys, key, strict=True))
        raise EvaluationError(f"{self.file}: no row for {shown} and no default")
