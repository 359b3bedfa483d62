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
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from . import engine
from .batch_columns import (
    Column,
    constant,
    from_results,
    from_typed,
    groups,
    input_column,
    missing,
    of_objects,
)
from .errors import BreakdownError, EvaluationError
from .expressions import ColumnEvaluator, Expression
from .model import Edition
from .money import MINOR_UNITS
from .tables import Table
from .vector import VectorFn, compile_vector
from .vector_ops import BOOL, DEC, DT, TD, Unsupported, Vec, truth

#: row statuses
PRICED, REFUSED, INVALID, FAILED = "priced", "refused", "invalid", "failed"
_STATUSES = np.array([PRICED, REFUSED, INVALID, FAILED], dtype=object)
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
    #: what the expressions saw, column by column: inputs (money as its amount), derived
    #: values, `now`
    env: dict[str, np.ndarray]

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


class _Failure:
    """A group's first problem (EvaluationError or BreakdownError), as the scalar path
    would report it."""

    def __init__(self, message: str) -> None:
        self.message = message


@dataclass
class _Step:
    """A step's outcome for the rows it ran on: each row's group and, per group, the
    typed result (`vec`, never a failure) or Python results with the failed groups."""

    rows: np.ndarray
    group: np.ndarray
    vec: Any = None
    results: np.ndarray | None = None
    failed: np.ndarray | None = None


def _typed(compiled: VectorFn | None, finish: Callable[[Vec], Any]) -> Any:
    if compiled is None:
        return None
    return lambda env, n: finish(compiled(env, n))


def _as_value(vec: Vec) -> Vec:
    if vec.kind in (TD, DEC):
        raise Unsupported(vec.kind)  # no exact Python objects: the scalar way
    return vec


class _Book:
    """The rows being priced: their statuses, errors and columns so far."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.status = np.zeros(n, dtype=np.int8)  # index into _STATUSES
        self.error = np.full(n, None, dtype=object)
        self.columns: dict[str, Column] = {}

    def live(self) -> np.ndarray:
        return np.flatnonzero(self.status == 0)

    def fail(self, rows: np.ndarray, kind: str, messages: np.ndarray | str) -> None:
        keep = self.status[rows] == 0
        still = rows[keep]
        self.status[still] = _STATUSES.tolist().index(kind)
        self.error[still] = messages[keep] if isinstance(messages, np.ndarray) else messages

    def run(
        self,
        names: Sequence[str],
        fn: Callable[[dict[str, Any]], Any],
        columns: ColumnEvaluator | None = None,
        vector: Callable[[dict[str, Vec], int], Any] | None = None,
    ) -> _Step:
        """fn({name: value}) for the live rows, once per distinct tuple of values: with
        `vector` over typed columns when every name has one and it is Unsupported
        nowhere; else with `columns` (the same over all groups at once, see
        Expression.columns); on any error in that, fn group by group, so that each
        group gets exactly the scalar result or error. Failed rows are marked."""
        rows = self.live()
        cols = [self.columns[name] for name in names]
        group, elements = groups(cols, rows)
        count = int(group.max()) + 1 if len(group) else 0
        if vector is not None and count:
            typed = {n: c.typed_at(e) for n, c, e in zip(names, cols, elements, strict=True)}
            if all(v is not None for v in typed.values()):
                try:
                    return _Step(rows, group, vec=vector(typed, count))  # type: ignore[arg-type]
                except Unsupported:
                    pass
        failed = np.zeros(count, dtype=bool)
        if columns is not None and count:
            values = {
                n: c.objects[e].tolist() for n, c, e in zip(names, cols, elements, strict=True)
            }
            try:
                listed = columns(values, count)
            except Exception:
                pass
            else:
                # fromiter: a tuple result stays one object, never a row of a 2-D array
                results = np.fromiter(listed, dtype=object, count=count)
                return _Step(rows, group, results=results, failed=failed)
        results = np.empty(count, dtype=object)
        for g in range(count):
            scope = {n: c.objects[e[g]] for n, c, e in zip(names, cols, elements, strict=True)}
            try:
                results[g] = fn(scope)
            except (EvaluationError, BreakdownError) as exc:
                results[g] = _Failure(str(exc))
                failed[g] = True
        if failed.any():
            bad = np.flatnonzero(failed[group])
            messages = np.array([r.message for r in results[group[bad]]], dtype=object)
            self.fail(rows[bad], FAILED, messages)
        return _Step(rows, group, results=results, failed=failed)

    def derive(self, name: str, step: _Step) -> None:
        """The step's results as a column that later steps may read."""
        if step.vec is not None:
            self.columns[name] = from_typed(step.vec, step.rows, step.group, self.n)
        else:
            assert step.results is not None and step.failed is not None
            self.columns[name] = from_results(
                step.results, step.failed, step.rows, step.group, self.n
            )

    def truths(self, expr: Expression) -> _Step:
        """bool(expr) per live row (step.vec: a bool array per group)."""
        return self.run(
            sorted(expr.names),
            lambda scope: bool(expr(scope)),
            lambda cols, count: [bool(v) for v in expr.columns(cols, count)],
            _typed(compile_vector(expr), truth),
        )


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
    book = _Book(n)

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

    # 2. derived values, in order (a derived value may read an earlier one)
    for d in edition.derived:
        step = book.run(
            sorted(d.expr.names), d.expr, d.expr.columns, _typed(compile_vector(d.expr), _as_value)
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
    starts, ends = _cover(edition, book, risks.index)

    columns: dict[str, Any] = {
        "status": _text(_STATUSES, book.status),
        "error": _errors(book.error),
    }
    ok = book.status == 0
    for j, part in enumerate(_PARTS):
        columns[f"{part}_minor"] = pd.arrays.IntegerArray(row_minor[:, j].copy(), ~ok)
    columns["coverage_start"] = starts
    columns["coverage_end"] = ends
    # what the expressions saw, without the premium step's own factor and loading columns
    seen = {k: c.rows() for k, c in book.columns.items() if not k.startswith(_PRIVATE)}
    return BatchResult(pd.DataFrame(columns, index=risks.index), edition.currency, seen)


def _string_dtype() -> Any:
    """The dtype pandas gives a column of texts (pandas 3: str, backed by pyarrow)."""
    return pd.DataFrame({"x": np.array(["x"], dtype=object)})["x"].dtype


def _text(texts: np.ndarray, codes: np.ndarray) -> Any:
    """texts[codes] as the column pandas would make of it, without pandas looking at
    every row to infer its type."""
    dtype = _string_dtype()
    if not len(codes) or getattr(dtype, "storage", None) != "pyarrow":
        return texts[codes]
    import pyarrow as pa

    indices = pa.array(codes.astype(np.int32), mask=codes < 0)
    decoded = pa.DictionaryArray.from_arrays(indices, pa.array(texts.tolist(), pa.large_string()))
    return pd.array(decoded.dictionary_decode(), dtype=dtype)


def _errors(error: np.ndarray) -> Any:
    codes, texts = pd.factorize(error)  # None: -1
    if not len(texts):
        return error  # no text at all: pandas keeps the Nones as objects
    return _text(np.asarray(texts, dtype=object), codes)


def _factor(table: Table) -> Callable[[dict[str, Any]], Decimal]:
    return lambda scope: table.lookup(scope).value


def _eligibility(edition: Edition, book: _Book) -> None:
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


def _cover(edition: Edition, book: _Book, index: pd.Index) -> tuple[Any, Any]:
    """Each row's cover (None where it is not priced) as the frame's two columns; a cover
    longer than the edition's longest refuses the row, a broken one fails it."""
    begins, finishes = edition.coverage_starts, edition.coverage_ends
    longest = edition.longest_cover
    vb, ve = compile_vector(begins), compile_vector(finishes)

    def typed(env: dict[str, Vec], count: int) -> tuple[Vec, Vec, np.ndarray]:
        assert vb is not None and ve is not None
        start, end = vb(env, count), ve(env, count)
        if start.kind != DT or end.kind != DT or not (start.instant() < end.instant()).all():
            raise Unsupported("not a cover: the scalar way says why")
        length = end.instant() - start.instant()  # fixed offsets: as datetime subtracts
        too_long = np.zeros(count, dtype=bool)
        if longest is not None:
            too_long = length > longest // timedelta(microseconds=1)
        return start, end, too_long

    def cover(scope: dict[str, Any]) -> tuple[Any, Any]:
        # The scalar engine's order: start, end, then the check.
        start, end = begins(scope), finishes(scope)
        engine.check_cover(edition, start, end)
        return start, end

    def covers(cols: dict[str, list[Any]], count: int) -> list[tuple[Any, Any]]:
        pairs = list(zip(begins.columns(cols, count), finishes.columns(cols, count), strict=True))
        for start, end in pairs:
            engine.check_cover(edition, start, end)  # one fails: group by group
        return pairs

    names = sorted(begins.names | finishes.names)
    step = book.run(names, cover, covers, typed if vb and ve else None)
    if step.vec is not None:
        start_vec, end_vec, too_long = step.vec
    else:
        assert step.results is not None and step.failed is not None
        pairs = step.results
        too_long = np.zeros(len(pairs), dtype=bool)
        for g in np.flatnonzero(~step.failed).tolist():
            too_long[g] = engine.cover_too_long(edition, *pairs[g]) is not None
    long = step.rows[too_long[step.group]]
    long = long[book.status[long] == 0]
    book.status[long] = 1
    book.error[long] = engine.COVER_TOO_LONG
    starts = np.full(book.n, None, dtype=object)
    ends = np.full(book.n, None, dtype=object)
    priced = book.status[step.rows] == 0
    rows, group = step.rows[priced], step.group[priced]
    if step.vec is not None:
        # objects only for the groups that stay priced
        used = np.zeros(len(too_long), dtype=bool)
        used[group] = True
        kept = np.flatnonzero(used)
        where = np.cumsum(used) - 1
        starts[rows] = start_vec.take(kept).objects()[where[group]]
        ends[rows] = end_vec.take(kept).objects()[where[group]]
        return _datetimes(starts, start_vec, kept, index), _datetimes(ends, end_vec, kept, index)
    starts[rows] = [pairs[g][0] for g in group.tolist()]
    ends[rows] = [pairs[g][1] for g in group.tolist()]
    return starts, ends


def _datetimes(values: np.ndarray, vec: Vec, kept: np.ndarray, index: pd.Index) -> Any:
    """A column of datetimes (and Nones) as the frame should hold it. Pandas looks at
    every value to see if they share a time zone and makes a datetime64 column if they
    do; they cannot when two of them have other UTC offsets, so then it would keep the
    objects, and so can we without the look."""
    assert vec.off is not None
    offsets = vec.off[kept]
    if len(offsets) and (offsets != offsets[0]).any():
        return pd.Series(values, index=index, dtype=object, copy=False)
    return values


def _premiums(
    edition: Edition, book: _Book, names: list[str], nf: int
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
