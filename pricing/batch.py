"""Price a table of risks at once, with the same result as the scalar engine for every row.

A book of flights repeats itself: a few carriers, airports, months and hours. So each
step runs once per *distinct* value of what it reads, not once per row:

- an input is parsed once per distinct raw value (by the scalar InputSpec.parse);
- a derived value, an eligibility rule, a loading condition or the cover is evaluated
  once per distinct tuple of the names its expression reads (by the compiled expression);
- a rating table is looked up once per distinct key;
- the premium is computed once per distinct combination of factor values and loading
  conditions (by engine.premium_from, the scalar arithmetic).

Rows are grouped with pandas' hash factorisation; nothing is approximated, so every row
gets exactly the scalar result (tests/unit/test_batch_pricing.py proves it on generated
risks with hypothesis). Reading the table is the caller's business: any DataFrame whose
columns are input names, holding JSON-like values (text for datetimes and decimals,
{"amount", "currency"} for money); a missing value is None or NaN.
"""

from __future__ import annotations

import decimal
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from . import engine
from .errors import BreakdownError, EvaluationError, InputError
from .expressions import ColumnEvaluator, Expression
from .model import Edition
from .money import MINOR_UNITS
from .tables import Table

#: row statuses
PRICED, REFUSED, INVALID, FAILED = "priced", "refused", "invalid", "failed"
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


def _missing(value: Any) -> bool:
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


def _tagged_codes(values: np.ndarray) -> np.ndarray:
    """Integer codes of values, equal only for values that mean the same (see _key)."""
    keys = np.empty(len(values), dtype=object)
    keys[:] = [_key(v) for v in values]
    codes, _ = pd.factorize(pd.Series(keys, dtype=object), use_na_sentinel=False)
    return codes.astype(np.int64)


def _codes(columns: Sequence[np.ndarray], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group the selected rows by the tuple of their key codes (integer columns, one per
    name; see _tagged_codes): returns each selected row's group code and, per group,
    the index of its first row."""
    if len(rows) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    combined = np.zeros(len(rows), dtype=np.int64)
    for column in columns:
        codes = column[rows]
        combined = combined * (int(codes.max()) + 2) + codes
        # Re-factorise the combination so the products never overflow.
        combined, _ = pd.factorize(combined)
    # the first (smallest) position of each group
    firsts = pd.Series(np.arange(len(rows))).groupby(combined).min().to_numpy()
    return combined.astype(np.int64), rows[firsts]


def _truth(expr: Expression) -> Callable[[dict[str, Any]], bool]:
    return lambda scope: bool(expr(scope))


def _truths(expr: Expression) -> ColumnEvaluator:
    return lambda cols, count: [bool(v) for v in expr.columns(cols, count)]


def _factor(table: Table) -> Callable[[dict[str, Any]], Decimal]:
    return lambda scope: table.lookup(scope).value


class _Failure:
    """A group's first problem (EvaluationError or BreakdownError), as the scalar path
    would report it."""

    def __init__(self, message: str) -> None:
        self.message = message


def _fail_groups(
    fail: Callable[[np.ndarray, str, Any], None],
    rows: np.ndarray,
    codes: np.ndarray,
    results: np.ndarray,
    failed: np.ndarray,
) -> None:
    """Mark the rows of the groups that failed, each with its group's message."""
    if failed.any():
        bad = np.flatnonzero(failed[codes])
        messages = np.array([r.message for r in results[codes[bad]]], dtype=object)
        fail(rows[bad], FAILED, messages)


def _per_group(
    env: dict[str, np.ndarray],
    keys: dict[str, np.ndarray],
    names: Sequence[str],
    rows: np.ndarray,
    fn: Callable[[dict[str, Any]], Any],
    columns: ColumnEvaluator | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """fn({name: env[name][row]}) for the rows, evaluated once per distinct tuple: returns
    each row's group code, each group's result, and which groups failed (an exception
    is stored in place of the result).

    With `columns` (the same computation over all groups at once, see
    Expression.columns), that runs first; any error in it and fn runs group by group, so
    that each group gets exactly the scalar result or error."""
    codes, firsts = _codes([keys[n] for n in names], rows)
    results = np.empty(len(firsts), dtype=object)
    failed = np.zeros(len(firsts), dtype=bool)
    if columns is not None and len(firsts):
        try:
            values = columns({n: env[n][firsts].tolist() for n in names}, len(firsts))
        except Exception:
            pass
        else:
            # fromiter: a tuple result stays one object, never a row of a 2-D array
            return codes, np.fromiter(values, dtype=object, count=len(firsts)), failed
    for g, first in enumerate(firsts):
        scope = {n: env[n][first] for n in names}
        try:
            results[g] = fn(scope)
        except (EvaluationError, BreakdownError) as exc:
            results[g] = _Failure(str(exc))
            failed[g] = True
    return codes, results, failed


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
    status = np.full(n, PRICED, dtype=object)
    error = np.full(n, None, dtype=object)

    def fail(rows: np.ndarray, kind: str, messages: np.ndarray | str) -> None:
        still = rows[status[rows] == PRICED] if len(rows) else rows
        if isinstance(messages, np.ndarray):
            messages = messages[np.isin(rows, still)]
        status[still] = kind
        error[still] = messages

    # 1. inputs: unknown columns first (the scalar parse reports those first), then each
    # declared input in order, parsed once per distinct raw value.
    for column in risks.columns:
        if column not in edition.inputs.by_name:
            present = np.flatnonzero(~risks[column].map(_missing).to_numpy(dtype=bool))
            fail(present, INVALID, f"risk.{column}: is not an input of this product")
    times = np.empty(n, dtype=object)
    times[:] = now if isinstance(now, datetime) else list(now)
    env: dict[str, np.ndarray] = {"now": times}
    # Integer key columns, equal only where the values mean the same (see _key).
    keycols: dict[str, np.ndarray] = {
        "now": np.zeros(n, dtype=np.int64) if isinstance(now, datetime) else _tagged_codes(times)
    }
    for spec in edition.inputs.specs:
        raw = (
            risks[spec.name].to_numpy(dtype=object)
            if spec.name in risks.columns
            else np.full(n, None, dtype=object)
        )
        if pd.api.types.infer_dtype(raw, skipna=False) == "string":
            keys = raw  # all text: the values are their own keys
        else:
            keys = np.empty(n, dtype=object)
            keys[:] = [_key(None if _missing(v) else v) for v in raw]
        codes, uniques = pd.factorize(pd.Series(keys, dtype=object), use_na_sentinel=False)
        _, first = np.unique(codes, return_index=True)
        parsed = np.empty(len(uniques), dtype=object)
        problems = np.full(len(uniques), None, dtype=object)
        param = f"risk.{spec.name}"
        for i in range(len(uniques)):
            value = raw[first[i]]
            if _missing(value):
                parsed[i] = spec.default
                if spec.required:
                    problems[i] = f"{param}: is required"
                continue
            try:
                parsed[i] = spec.parse(value, param)
            except InputError as exc:
                problems[i] = str(exc)
        bad = np.flatnonzero(problems[codes] != None)  # noqa: E711 - elementwise
        fail(bad, INVALID, problems[codes][bad])
        plain = np.empty(len(parsed), dtype=object)
        plain[:] = [v.amount if hasattr(v, "amount") else v for v in parsed]
        env[spec.name] = plain[codes]
        keycols[spec.name] = codes.astype(np.int64)  # distinct raw values, distinct keys

    def live() -> np.ndarray:
        return np.flatnonzero(status == PRICED)

    def evaluate(
        names: Sequence[str],
        fn: Callable[[dict[str, Any]], Any],
        key: str | None = None,
        columns: ColumnEvaluator | None = None,
    ) -> np.ndarray:
        """fn per row (once per distinct tuple); with `key`, the result becomes a column
        that later steps may read."""
        out = np.full(n, None, dtype=object)
        rows = live()
        codes, results, failed = _per_group(env, keycols, sorted(names), rows, fn, columns)
        out[rows] = results[codes]
        if key is not None:
            column = np.full(n, -1, dtype=np.int64)
            column[rows] = _tagged_codes(results)[codes]
            env[key], keycols[key] = out, column
        _fail_groups(fail, rows, codes, results, failed)
        return out

    # 2. derived values, in order (a derived value may read an earlier one)
    for d in edition.derived:
        evaluate(list(d.expr.names), d.expr, key=d.spec.name, columns=d.expr.columns)

    # 3. eligibility: every rule that refuses, in declaration order
    refused = np.full(n, "", dtype=object)
    for rule in edition.eligibility:
        verdicts = evaluate(
            list(rule.refuse_when.names),
            _truth(rule.refuse_when),
            columns=_truths(rule.refuse_when),
        )
        hit = np.flatnonzero(verdicts == True)  # noqa: E712 - elementwise; None is no verdict
        refused[hit] = [f"{r},{rule.code}" if r else rule.code for r in refused[hit]]
    newly = np.flatnonzero((refused != "") & (status == PRICED))
    status[newly] = REFUSED
    error[newly] = refused[newly]

    # 4. factors and loading conditions, then the premium per distinct combination
    rating = edition.rating
    parts: list[str] = []
    for i, factor in enumerate(rating.factors):
        keys = getattr(factor.table, "keys", None) or (factor.table.key,)  # type: ignore[union-attr]
        evaluate(list(keys), _factor(factor.table), key=f"{_PRIVATE}factor{i}")
        parts.append(f"{_PRIVATE}factor{i}")
    for i, loading in enumerate(rating.loadings):
        name = f"{_PRIVATE}loading{i}"
        if loading.when is None:
            env[name], keycols[name] = np.full(n, True, dtype=object), np.zeros(n, dtype=np.int64)
        else:
            evaluate(
                list(loading.when.names),
                _truth(loading.when),
                key=name,
                columns=_truths(loading.when),
            )
        parts.append(name)
    priced_rows = live()
    combo, minor = _premiums(edition, env, keycols, parts, len(rating.factors), priced_rows, fail)
    row_minor = np.zeros((n, 5), dtype=np.int64)
    row_minor[priced_rows] = minor[combo]

    # 5. the cover
    begins, finishes = edition.coverage_starts, edition.coverage_ends

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

    pairs = evaluate(sorted(begins.names | finishes.names), cover, columns=covers)
    # (a failed row holds its failure, not a pair; its status hides it below)
    starts = np.fromiter((p[0] if isinstance(p, tuple) else None for p in pairs), object, n)
    ends = np.fromiter((p[1] if isinstance(p, tuple) else None for p in pairs), object, n)
    if edition.longest_cover is not None:
        rows = live()
        long = [i for i in rows if engine.cover_too_long(edition, starts[i], ends[i])]
        status[long] = REFUSED
        error[long] = engine.COVER_TOO_LONG

    columns: dict[str, Any] = {"status": status, "error": error}
    ok = status == PRICED
    for j, part in enumerate(_PARTS):
        values = pd.array(row_minor[:, j], dtype="Int64")
        values[~ok] = pd.NA
        columns[f"{part}_minor"] = values
    columns["coverage_start"] = np.where(ok, starts, np.full(n, None, dtype=object))
    columns["coverage_end"] = np.where(ok, ends, np.full(n, None, dtype=object))
    # what the expressions saw, without the premium step's own factor and loading columns
    seen = {k: v for k, v in env.items() if not k.startswith(_PRIVATE)}
    return BatchResult(pd.DataFrame(columns, index=risks.index), edition.currency, seen)


def _premiums(
    edition: Edition,
    env: dict[str, np.ndarray],
    keycols: dict[str, np.ndarray],
    names: list[str],
    nf: int,
    rows: np.ndarray,
    fail: Callable[[np.ndarray, str, Any], None],
) -> tuple[np.ndarray, np.ndarray]:
    """The premium of the rows, computed once per distinct combination of factor values
    and loading conditions: each row's combination code and, per combination, its
    parts in minor units (net, tax, commission, fees, total; zeros where it failed)."""

    def price(s: dict[str, Any]) -> engine.Breakdown:
        return engine.premium_from(
            edition.rating,
            edition.currency,
            [s[name] for name in names[:nf]],
            [s[name] for name in names[nf:]],
        )

    codes, results, failed = _per_group(env, keycols, names, rows, price)
    _fail_groups(fail, rows, codes, results, failed)
    exp = MINOR_UNITS[edition.currency]
    minor = np.zeros((len(results), 5), dtype=np.int64)
    for g, b in enumerate(results):
        if not failed[g]:
            minor[g] = [int(getattr(b, k).scaleb(exp)) for k in _PARTS]
    return codes, minor
