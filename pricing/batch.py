"""Price a table of risks at once, with the same result as the scalar engine for every row.

A book of flights repeats itself: a few carriers, airports, months and hours. So each
step runs once per *distinct* value of what it reads, not once per row:

- an input is parsed once per distinct raw value (date-times of the common ISO forms all
  at once with numpy, pricing/batch_datetimes.py; anything else by InputSpec.parse);
- a derived value, an eligibility rule, a loading condition or the cover is evaluated
  once per distinct tuple of the names its expression reads: with numpy over typed
  columns where every name it reads has one (pricing/vector.py), else by the compiled
  expression;
- a rating table is looked up once per distinct key;
- the premium is computed once per distinct combination of factor values and loading
  conditions (by engine.premium_from, the scalar arithmetic).

Rows are grouped with pandas' hash factorisation (pricing/batch_columns.py); nothing is
approximated, so every row gets exactly the scalar result (tests/unit/test_batch_pricing.py
proves it on generated risks with hypothesis). Reading the table is the caller's
business: any DataFrame whose columns are input names, holding JSON-like values (text for
datetimes and decimals, {"amount", "currency"} for money); a missing value is None or NaN.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from . import engine
from .batch_book import FAILED, INVALID, PRICED, REFUSED, Book, as_value, typed
from .batch_columns import Column, constant, input_column, missing, of_objects
from .batch_frame import cover, texts
from .expressions import ColumnEvaluator
from .model import Edition
from .money import MINOR_UNITS
from .tables import Table, ValueTable, value_key
from .vector import compile_vector
from .vector_ops import BOOL, Vec

__all__ = ["FAILED", "INVALID", "PRICED", "REFUSED", "BatchResult", "price_frame"]
_PARTS = ("net", "tax", "commission", "fees", "total")
#: prefix of the premium step's own columns (factor values, loading conditions), which no
#: product name can start with
_PRIVATE = "\x00"


@dataclass
class BatchResult:
    """One row per risk, in the order given.

    status: priced | refused | invalid (an input error) | failed (the edition cannot
    price it: EvaluationError or BreakdownError); amounts in minor units of `currency`.
    """

    frame: pd.DataFrame
    currency: str
    #: the columns `env` is made of
    _seen: dict[str, Column] = field(repr=False, compare=False)

    @cached_property
    def env(self) -> dict[str, np.ndarray]:
        """What the expressions saw, column by column: inputs (money as its amount),
        derived values, `now`. Made when first read: pricing itself never needs these
        Python objects (a book of flights has 127,328 departure times and as many hours
        to departure), and most callers only want the prices."""
        with decimal.localcontext(engine._CONTEXT):  # hours_between's quotients
            return {name: column.rows() for name, column in self._seen.items()}

    def premium(self, row: int) -> dict[str, Decimal] | None:
        """Row `row`'s premium parts as Decimals, or None when it was not priced."""
        frame = self.frame
        if frame["status"].iat[row] != PRICED:
            return None
        exp = MINOR_UNITS[self.currency]
        quantum = Decimal(1).scaleb(-exp)
        return {
            k: Decimal(int(frame[f"{k}_minor"].iat[row])).scaleb(-exp).quantize(quantum)
            for k in _PARTS
        }


def price_frame(
    edition: Edition, risks: pd.DataFrame, now: datetime | Sequence[datetime] | np.ndarray
) -> BatchResult:
    """Price every row of `risks` on `edition` at time `now` (one time for all, or one
    per row, e.g. when each stored policy is priced again at its own time)."""
    # the engine's decimal context, whatever the caller's is
    with decimal.localcontext(engine._CONTEXT):
        return _price_frame(edition, risks, now)


def _price_frame(
    edition: Edition, risks: pd.DataFrame, now: datetime | Sequence[datetime] | np.ndarray
) -> BatchResult:
    n = len(risks)
    if not isinstance(now, datetime) and len(now) != n:
        raise ValueError(f"{len(now)} pricing times for {n} risks")
    book = Book(n)

    # 1. inputs: unknown columns first (the scalar parse reports those first), then each
    # declared input in order, parsed once per distinct raw value.
    for column in risks.columns:
        if column not in edition.inputs.by_name:
            series = risks[column]
            absent = (
                series.isna() if isinstance(series.dtype, pd.StringDtype) else series.map(missing)
            )
            present = np.flatnonzero(~absent.to_numpy(dtype=bool))
            book.fail(present, INVALID, f"risk.{column}: is not an input of this product")
    if isinstance(now, datetime):
        book.columns["now"] = constant(now, n)
    else:
        times = np.empty(n, dtype=object)
        times[:] = list(now)
        book.columns["now"] = of_objects(times)
    for spec in edition.inputs.specs:
        series = risks[spec.name] if spec.name in risks.columns else None
        column, problems = input_column(spec, series, n)
        if problems:
            messages = np.full(column.size(), None, dtype=object)
            messages[list(problems)] = list(problems.values())
            bad = np.flatnonzero(messages[column.codes] != None)  # noqa: E711 - elementwise
            book.fail(bad, INVALID, messages[column.codes[bad]])
        book.columns[spec.name] = column

    # 2. derived values, in order (a derived value may read an earlier one); one looked
    # up in a table, once per distinct key
    for d in edition.derived:
        if d.table is not None:
            step = book.run(sorted(d.table.keys), d.table.lookup, _lookups(d.table))
        else:
            assert d.expr is not None
            step = book.run(
                sorted(d.expr.names),
                d.expr,
                d.expr.columns,
                typed(compile_vector(d.expr), as_value),
            )
        book.derive(d.spec.name, step)

    # 3. eligibility: every rule that refuses, in declaration order
    _eligibility(edition, book)

    # 4. factors and loading conditions, then the premium per distinct combination
    rating = edition.rating
    parts: list[str] = []
    for i, factor in enumerate(rating.factors):
        keys = getattr(factor.table, "keys", None) or (factor.table.key,)  # type: ignore[union-attr]
        name = f"{_PRIVATE}factor{i}"
        book.derive(name, book.run(sorted(keys), _factor(factor.table)))
        parts.append(name)
    for i, loading in enumerate(rating.loadings):
        name = f"{_PRIVATE}loading{i}"
        if loading.when is None:
            book.columns[name] = constant(True, n)
        else:
            step = book.truths(loading.when)
            if step.vec is not None:
                step.vec = Vec(BOOL, step.vec)
            book.derive(name, step)
        parts.append(name)
    priced_rows = book.live()
    combo, minor = _premiums(edition, book, parts, len(rating.factors))
    row_minor = np.zeros((n, 5), dtype=np.int64)
    row_minor[priced_rows] = minor[combo]

    # 5. the cover
    starts, ends = cover(edition, book, risks.index)

    status, error = texts(book.status, book.error)
    columns: dict[str, Any] = {"status": status, "error": error}
    ok = book.status == 0
    for j, part in enumerate(_PARTS):
        columns[f"{part}_minor"] = pd.arrays.IntegerArray(row_minor[:, j].copy(), ~ok)
    columns["coverage_start"] = starts
    columns["coverage_end"] = ends
    # what the expressions saw, without the premium step's own factor and loading columns
    seen = {k: c for k, c in book.columns.items() if not k.startswith(_PRIVATE)}
    return BatchResult(pd.DataFrame(columns, index=risks.index), edition.currency, seen)


def _factor(table: Table) -> Callable[[dict[str, Any]], Decimal]:
    return lambda scope: table.lookup(scope).value


def _lookups(table: ValueTable) -> ColumnEvaluator:
    """The table's values for all the distinct keys at once (a key without a row and no
    default raises: then key by key, each with the scalar error)."""
    rows, default = table.rows, table.default

    def values(cols: dict[str, list[Any]], count: int) -> list[Any]:
        keys = zip(*([value_key(v) for v in cols[k]] for k in table.keys), strict=True)
        if default is None:
            return [rows[key] for key in keys]
        return [rows.get(key, default) for key in keys]

    return values


def _eligibility(edition: Edition, book: Book) -> None:
    """Every rule that refuses a live row, in declaration order, joined by commas."""
    refused = np.full(book.n, "", dtype=object)
    for rule in edition.eligibility:
        step = book.truths(rule.refuse_when)
        if step.vec is not None:
            hit = step.rows[step.vec[step.group]]
        else:
            assert step.results is not None
            verdicts = np.fromiter((r is True for r in step.results), bool, len(step.results))
            hit = step.rows[verdicts[step.group]]
        refused[hit] = [f"{r},{rule.code}" if r else rule.code for r in refused[hit]]
    newly = np.flatnonzero((refused != "") & (book.status == 0))
    book.status[newly] = 1
    book.error[newly] = refused[newly]


def _premiums(
    edition: Edition, book: Book, names: list[str], nf: int
) -> tuple[np.ndarray, np.ndarray]:
    """The premium of the live rows, computed once per distinct combination of factor
    values and loading conditions: each row's combination code and, per combination,
    its parts in minor units (net, tax, commission, fees, total; zeros where it failed)."""

    def price(s: dict[str, Any]) -> engine.Breakdown:
        return engine.premium_from(
            edition.rating,
            edition.currency,
            [s[name] for name in names[:nf]],
            [s[name] for name in names[nf:]],
        )

    step = book.run(names, price)
    assert step.results is not None and step.failed is not None
    exp = MINOR_UNITS[edition.currency]
    minor = np.zeros((len(step.results), 5), dtype=np.int64)
    for g, b in enumerate(step.results):
        if not step.failed[g]:
            minor[g] = [int(getattr(b, k).scaleb(exp)) for k in _PARTS]
    return step.group, minor
