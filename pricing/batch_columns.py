"""The columns of the batch path: for each name an expression may read, every row's code
into that name's distinct values, the values as Python objects (made when first needed)
and, where they are all of one kind, as a typed numpy column (pricing/vector_ops.Vec).

Two rows with the same code hold values that mean the same (see `tagged`): that is what
lets a step run once per distinct value. Rows with code -1 have no value (None): the
step that makes the column did not reach them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from . import batch_datetimes as bd
from .errors import InputError
from .inputs import InputSpec
from .vector_ops import DT, Vec, from_values


def missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _key(value: Any) -> Any:
    """A hashable key for values that are equal only when they mean the same: True is not
    1, Decimal("1.0") is not Decimal("1") (a worksheet shows them differently), and two
    datetimes at the same instant but in other offsets are not the same (hour() and
    month() read the offset)."""
    if isinstance(value, dict | list):
        try:
            return ("json", json.dumps(value, sort_keys=True, default=str))
        except TypeError:
            return ("repr", repr(value))
    if isinstance(value, datetime):
        return ("datetime", value.isoformat())
    if isinstance(value, Decimal):
        return ("Decimal", str(value))
    return (type(value).__name__, value)


def first_rows(codes: np.ndarray) -> np.ndarray:
    """Where each code first appears, for codes numbered in order of first appearance (as
    pd.factorize numbers them)."""
    if not len(codes):
        return np.zeros(0, dtype=np.int64)
    seen = np.maximum.accumulate(codes)
    return np.flatnonzero(np.concatenate(([True], seen[1:] > seen[:-1])))


def tagged(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of values, equal only for values that mean the same (see _key), and where
    each code first appears."""
    keys = np.empty(len(values), dtype=object)
    keys[:] = [_key(v) for v in values]
    codes, _ = pd.factorize(keys, use_na_sentinel=False)
    return codes.astype(np.int64, copy=False), first_rows(codes)


class Column:
    """A name's values: `codes` per row into the distinct values; `typed` the distinct
    values as a Vec where `ok` (None: all of them), else None."""

    def __init__(
        self,
        codes: np.ndarray,
        objects: np.ndarray | None,
        typed: Vec | None = None,
        ok: np.ndarray | None = None,
        pending: np.ndarray | None = None,
    ) -> None:
        self.codes = codes
        self._objects = objects
        self.typed = typed
        self.ok = ok
        #: the distinct values whose objects are still to be made from `typed`
        self._pending = pending

    @property
    def objects(self) -> np.ndarray:
        # made when first read: a step that runs typed never needs them
        if self._objects is None:
            assert self.typed is not None and self.ok is None
            self._objects = self.typed.objects()
        elif self._pending is not None:
            assert self.typed is not None
            self._objects[self._pending] = self.typed.take(self._pending).objects()
            self._pending = None
        return self._objects

    def size(self) -> int:
        return len(self._objects) if self._objects is not None else len(self.typed or ())

    def rows(self) -> np.ndarray:
        """The value of every row (None where it has none)."""
        codes = self.codes
        if not len(codes) or codes.min() >= 0:
            return self.objects[codes]
        # code -1 reads the None at the end
        return np.concatenate([self.objects, np.full(1, None, dtype=object)])[codes]

    def typed_at(self, elements: np.ndarray) -> Vec | None:
        if self.typed is None or (self.ok is not None and not self.ok[elements].all()):
            return None
        return self.typed.take(elements)


def constant(value: Any, n: int) -> Column:
    objects = np.empty(1, dtype=object)
    objects[0] = value
    return Column(np.zeros(n, dtype=np.int64), objects, from_values(objects))


def of_objects(values: np.ndarray) -> Column:
    """A column of per-row objects (e.g. one pricing time per row)."""
    if set(map(type, values)) == {datetime}:
        # what _key's isoformat tells apart, without writing it: the instant (their
        # hash and ==) and the UTC offset
        instants, _ = pd.factorize(values)
        offsets, _ = pd.factorize(
            np.fromiter(map(datetime.utcoffset, values), object, len(values)),
            use_na_sentinel=False,  # naive: None, a value of its own
        )
        codes, _ = pd.factorize(instants * (int(offsets.max()) + 1) + offsets)
        codes, firsts = codes.astype(np.int64, copy=False), first_rows(codes)
    else:
        codes, firsts = tagged(values)
    distinct = values[firsts]
    return Column(codes, distinct, from_values(distinct))


def from_typed(vec: Vec, rows: np.ndarray, groups: np.ndarray, n: int) -> Column:
    """A column from typed results per group (`groups`: each of `rows`' group)."""
    codes = np.zeros(len(vec), dtype=np.int64)
    for key in vec.parts():
        part, _ = pd.factorize(key)
        codes = codes * (int(part.max(initial=0)) + 1) + part
    codes, _ = pd.factorize(codes)
    return Column(_spread_rows(codes[groups], rows, n), None, vec.take(first_rows(codes)))


def from_results(
    results: np.ndarray, failed: np.ndarray, rows: np.ndarray, groups: np.ndarray, n: int
) -> Column:
    """A column from Python results per group (a failed group holds its failure)."""
    codes, firsts = tagged(results)
    distinct = results[firsts]
    typed = None if failed.any() else from_values(distinct)
    return Column(_spread_rows(codes[groups], rows, n), distinct, typed)


def _at(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """values[rows] (rows: sorted distinct row numbers), without a copy for all rows."""
    return values if len(rows) == len(values) else values[rows]


def _spread_rows(values: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """Per row of n: the value of each of `rows`, -1 elsewhere."""
    if len(rows) == n:
        return values
    out = np.full(n, -1, dtype=np.int64)
    out[rows] = values
    return out


def groups(columns: Sequence[Column], rows: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The selected rows grouped by the tuple of their codes: each row's group, and per
    column the code (distinct value) of each group."""
    varying = [c for c in columns if c.size() > 1]
    if not varying or not len(rows):
        count = 1 if len(rows) else 0
        return np.zeros(len(rows), dtype=np.int64), [np.zeros(count, dtype=np.int64)] * len(columns)
    if len(varying) == 1:
        codes = _at(varying[0].codes, rows)
        used = np.zeros(varying[0].size(), dtype=bool)
        used[codes] = True
        elements = np.flatnonzero(used)
        if len(elements) == len(used):
            group = codes
        else:
            renumber = np.zeros(len(used), dtype=np.int64)
            renumber[elements] = np.arange(len(elements))
            group = renumber[codes]
        firsts = None
        picked = {id(varying[0]): elements}
    else:
        combined = np.zeros(len(rows), dtype=np.int64)
        span = 1
        for column in varying:
            size = column.size()
            if span * size >= 2**62:
                combined, _ = pd.factorize(combined)
                span = int(combined.max()) + 1
            combined = combined * size + _at(column.codes, rows)
            span *= size
        group, _ = pd.factorize(combined)
        group = group.astype(np.int64, copy=False)
        firsts = rows[first_rows(group)]
        picked = {id(c): c.codes[firsts] for c in varying}
    count = int(group.max()) + 1
    zeros = np.zeros(count, dtype=np.int64)
    return group, [picked.get(id(c), zeros) for c in columns]


# -- inputs --------------------------------------------------------------------------------
def _raw_codes(series: pd.Series | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the raw values (distinct raw values, distinct codes) and the values."""
    if series is None:
        return np.zeros(n, dtype=np.int64), np.array([None], dtype=object)
    if isinstance(series.dtype, pd.StringDtype):
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        values = np.asarray(uniques, dtype=object)
        if (codes < 0).any():
            values = np.concatenate([values, np.full(1, None, dtype=object)])
            codes = np.where(codes < 0, len(uniques), codes)
        return codes.astype(np.int64, copy=False), values
    raw = series.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(raw, skipna=False) == "string":
        codes, uniques = pd.factorize(raw)  # all text: the values are their own keys
        return codes.astype(np.int64, copy=False), np.asarray(uniques, dtype=object)
    keys = np.empty(n, dtype=object)
    keys[:] = [_key(None if missing(v) else v) for v in raw]
    codes, _ = pd.factorize(keys, use_na_sentinel=False)
    return codes.astype(np.int64, copy=False), raw[first_rows(codes)]


def input_column(
    spec: InputSpec, series: pd.Series | None, n: int
) -> tuple[Column, dict[int, str]]:
    """The parsed input (money as its amount) and the problems (the scalar messages) of
    the distinct raw values that have one."""
    codes, raw = _raw_codes(series, n)
    parsed = np.empty(len(raw), dtype=object)
    problems: dict[int, str] = {}
    param = f"risk.{spec.name}"
    fast = np.zeros(len(raw), dtype=bool)
    local = offset = np.zeros(len(raw), dtype=np.int64)
    checks = (spec.enum, spec.pattern, spec.minimum, spec.maximum, spec.min_length, spec.max_length)
    if spec.type == "datetime" and all(c is None for c in checks):
        fast, local, offset = bd.parse_iso(raw)
    ok = fast.copy()
    for i in np.flatnonzero(~fast).tolist():
        value = raw[i]
        if missing(value):
            default = spec.default
            parsed[i] = default.amount if hasattr(default, "amount") else default
            if spec.required:
                problems[i] = f"{param}: is required"
            continue
        try:
            value = spec.parse(value, param)
        except InputError as exc:
            problems[i] = str(exc)
            continue
        parsed[i] = value.amount if hasattr(value, "amount") else value
        ok[i] = True
    if spec.type == "datetime" and fast.any():
        slow = np.flatnonzero(~fast & ok)
        got = bd.from_objects(parsed[slow])
        if got is None:
            ok[slow] = False
        else:
            local[slow], offset[slow] = got
        typed = Vec(DT, local, offset)
        if fast.all():
            return Column(codes, None, typed), problems
        return Column(codes, parsed, typed, ok, np.flatnonzero(fast)), problems
    good = np.flatnonzero(ok)
    vec = from_values(parsed[good])
    if vec is None:
        return Column(codes, parsed), problems
    if len(good) == len(parsed):
        return Column(codes, parsed, vec), problems
    return Column(codes, parsed, _spread(vec, good, len(parsed)), ok), problems


def _spread(vec: Vec, where: np.ndarray, size: int) -> Vec:
    """vec's values at `where` in a Vec of `size` elements (placeholders elsewhere)."""
    a = np.zeros(size, dtype=vec.a.dtype) if vec.a.dtype != object else np.full(size, "", object)
    a[where] = vec.a
    off = None
    if vec.off is not None:
        off = np.zeros(size, dtype=np.int64)
        off[where] = vec.off
    return Vec(vec.kind, a, off, vec.den)
