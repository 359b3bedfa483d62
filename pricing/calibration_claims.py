"""What each row of a calibration book costs in claims: what the edition's own claim rules
for the book's trigger type pay for the fact that happened, decided as the service
decides a trigger (pricing/claims.decide: the first rule whose `when` holds decides; a
refund rule pays nothing; a loss outside the cover pays nothing; never above the largest
benefit).

A book of 336,776 flights cannot be decided row by row in reasonable time, so:

1. The policy facts a rule may read come from pricing the book (the cover, the premium;
   issued_at is the pricing time), the trigger's fields from the book (money as its
   amount), and event_time from the trigger type's event-time expression.
2. Each rule's `when` runs on the batch path (pricing/batch_book.py: once per distinct
   tuple of what it reads, with exactly the scalar engine's result), on the rows no
   earlier rule decided. That gives each row its deciding rule.
3. Rows with the same deciding rule, the same values of what its payout reads and the
   loss on the same side of their cover get the same decision: `decide` runs once per
   such group, on its first row, and its amount is the group's claim cost.

observed_at, when the book does not give it, is when the loss happened (its event time)
but not before the cover starts: a cancellation, whose event time is when it is
reported, counts as reported when the cover starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from .batch import PRICED, BatchResult, price_frame
from .batch_book import Book as Rows  # the batch path's rows (not a calibration Book)
from .batch_book import as_value, typed
from .batch_columns import Column, constant, input_column, missing, of_objects
from .calibration_book import Book, BookError
from .claims import PolicyFacts, decide
from .errors import InputError, InputErrors
from .expressions import Expression
from .inputs import InputSpec
from .model import Edition
from .money import MINOR_UNITS
from .vector import compile_vector

#: where a loss falls relative to its cover (decide pays only within it)
_BEFORE, _WITHIN, _AFTER = 0, 1, 2
_OUT = "\x00out"


@dataclass(frozen=True)
class Trigger:
    """What calibration needs of a trigger type (see calibrate.trigger_type)."""

    name: str
    fields: tuple[InputSpec, ...]
    #: when the reported loss happened, over the fields and observed_at
    event_time: Expression


def needed(edition: Edition, trigger: Trigger) -> set[str]:
    """The trigger's fields that the edition's claim rules and the event time read."""
    rules = [r for r in edition.claims if r.trigger == trigger.name]
    read = set().union(*(r.when.names | (r.payout.names if r.payout else set()) for r in rules))
    return (read | trigger.event_time.names) & {s.name for s in trigger.fields}


def claim_costs(edition: Edition, trigger: Trigger, book: Book, priced: BatchResult) -> np.ndarray:
    """Each row's claim cost (0 where nothing happened or the edition could not price it)."""
    cost = np.zeros(len(book))
    ok = (priced.frame["status"] == PRICED).to_numpy()
    sub = np.flatnonzero(ok & book.happened)
    rules = [r for r in edition.claims if r.trigger == trigger.name]
    if not len(sub) or not rules:
        return cost
    m = len(sub)
    # only the rows with a fact: converting a whole column of Timestamps costs more
    start = _datetimes(priced.frame["coverage_start"].iloc[sub])
    end = _datetimes(priced.frame["coverage_end"].iloc[sub])
    observed, event = _times(trigger, book, sub, start)
    position = np.fromiter(
        (
            _BEFORE if e < s else _AFTER if e >= f else _WITHIN
            for e, s, f in zip(event, start, end, strict=True)
        ),
        dtype=np.int64,
        count=m,
    )
    read = set().union(*(r.when.names | (r.payout.names if r.payout else set()) for r in rules))
    fields = _fields(trigger, book, sub, read)
    columns = _Columns(edition, book, priced, sub, fields, observed, event, start, end)
    rows = Rows(m)
    rows.columns = {name: columns.of(name) for name in sorted(read)}
    decided = np.full(m, -1, dtype=np.int64)
    for i, rule in enumerate(rules):
        step = rows.truths(rule.when)
        if step.vec is not None:
            held = step.rows[step.vec[step.group]]
        else:
            assert step.results is not None
            verdicts = np.fromiter((r is True for r in step.results), bool, len(step.results))
            held = step.rows[verdicts[step.group]]
        decided[held] = i
        rows.status[held] = 1  # decided: later rules no longer run on it, as in decide
    failed = np.flatnonzero(pd.notna(rows.error))
    if len(failed):
        row = int(sub[failed[0]])
        raise BookError(f"{book.at(row)}: the claim rules cannot decide: {rows.error[failed[0]]}")
    # The groups: deciding rule, the loss's side of the cover, what the payout reads.
    keys = [decided, position]
    for name in sorted(set().union(*(r.payout.names for r in rules if r.payout))):
        reads = np.array([r.payout is not None and name in r.payout.names for r in rules] + [False])
        keys.append(np.where(reads[decided], rows.columns[name].codes, -1))
    _, firsts, group = np.unique(
        np.column_stack(keys), axis=0, return_index=True, return_inverse=True
    )
    amounts = np.zeros(len(firsts))
    reader = _Reader.of(edition, trigger, book, priced, start, end)
    for g, first in enumerate(firsts.tolist()):
        if decided[first] >= 0:
            amounts[g] = _decided(edition, trigger, book, reader, sub, first, observed, event)
    cost[sub] = amounts[group.reshape(-1)]
    return cost


@dataclass
class _Reader:
    """What `decide` reads of a row, taken out of the frames column by column once: a
    pandas lookup per cell was most of calibrate's time."""

    inputs: dict[str, np.ndarray]
    facts: dict[str, np.ndarray]
    #: premium totals in minor units, and the cover of the rows with a fact
    totals: np.ndarray
    start: np.ndarray
    end: np.ndarray
    quantum: Decimal

    @classmethod
    def of(
        cls,
        edition: Edition,
        trigger: Trigger,
        book: Book,
        priced: BatchResult,
        start: np.ndarray,
        end: np.ndarray,
    ) -> _Reader:
        def columns(names: list[str]) -> dict[str, np.ndarray]:
            out = {}
            for name in names:  # a fact's own column first, else the risk's (as Book.raw)
                frame = book.facts if name in book.facts.columns else book.risks
                if name in frame.columns:
                    out[name] = frame[name].to_numpy(dtype=object)
            return out

        exp = MINOR_UNITS[priced.currency]
        return cls(
            columns([s.name for s in edition.inputs.specs]),
            columns([s.name for s in trigger.fields]),
            priced.frame["total_minor"].to_numpy(dtype=object),
            start,
            end,
            Decimal(1).scaleb(-exp),
        )

    @staticmethod
    def raw(columns: dict[str, np.ndarray], row: int) -> dict[str, Any]:
        return {name: v for name, c in columns.items() if not missing(v := c[row])}

    def total(self, row: int) -> Decimal:
        return (Decimal(int(self.totals[row])) * self.quantum).quantize(self.quantum)


def _decided(
    edition: Edition,
    trigger: Trigger,
    book: Book,
    reader: _Reader,
    sub: np.ndarray,
    i: int,
    observed: np.ndarray,
    event: np.ndarray,
) -> float:
    """What `decide` pays on one row (the first of its group)."""
    row = int(sub[i])
    try:
        risk = edition.inputs.parse(reader.raw(reader.inputs, row))
        raw = reader.raw(reader.facts, row)
        values = {
            s.name: s.parse(raw[s.name], f"data.{s.name}") if s.name in raw else s.default
            for s in trigger.fields
        }
    except (InputError, InputErrors) as exc:  # checked when read: not expected
        raise BookError(f"{book.at(row)}: {exc}") from None
    start, end = reader.start[i], reader.end[i]
    assert start is not None and end is not None  # priced: it has a cover
    facts = PolicyFacts(book.at(row), reader.total(row), start, end, book.priced_at[row])
    decision = decide(edition, trigger.name, risk, facts, values, observed[i], event[i])
    if decision.problem:
        raise BookError(f"{book.at(row)}: the claim rules cannot decide: {decision.problem}")
    return float(decision.amount) if decision.pays and decision.amount is not None else 0.0


def _fields(
    trigger: Trigger, book: Book, rows: np.ndarray, names: set[str] | frozenset[str]
) -> dict[str, Column]:
    """Those of the trigger's fields in `names` on the given rows, parsed (money as its
    amount)."""
    out = {}
    for spec in trigger.fields:
        if spec.name not in names:
            continue
        frame = book.facts if spec.name in book.facts.columns else book.risks
        if spec.name not in frame.columns:
            out[spec.name] = constant(spec.default, len(rows))
            continue
        column, problems = input_column(spec, frame[spec.name].iloc[rows], len(rows))
        bad = np.flatnonzero(np.isin(column.codes, list(problems)))
        if len(bad):
            message = problems[int(column.codes[bad[0]])].removeprefix(f"risk.{spec.name}: ")
            raise BookError(f"{book.at(int(rows[bad[0]]), spec.name)}: {message}")
        out[spec.name] = column
    return out


def _times(
    trigger: Trigger, book: Book, sub: np.ndarray, start: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each selected row's observed_at and event time (see the module's docstring)."""
    given = book.observed_at[sub]
    default = np.array([t is None for t in given], dtype=bool)
    observed = np.where(default, start, given)
    event = _evaluate(trigger, book, sub, observed)
    later = default & (event > start)
    if later.any():
        observed[later] = event[later]  # observed when it happened
        if "observed_at" in trigger.event_time.names:
            event[later] = _evaluate(trigger, book, sub[later], observed[later])
    early = np.flatnonzero(~default & (event > observed))
    if len(early):
        i = int(early[0])
        raise BookError(
            f"{book.at(int(sub[i]), 'observed_at')}: {observed[i].isoformat()} is before the "
            f"loss it reports ({event[i].isoformat()}): the report is premature"
        )
    return observed, event


def _evaluate(trigger: Trigger, book: Book, rows: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """The trigger type's event time on the given rows, on the batch path."""
    expr = trigger.event_time
    names = sorted(expr.names)
    # A field missing on some rows (a cancellation has no delay) keeps the others' typed
    # columns from numpy: each pattern of missing fields is evaluated apart.
    pattern = np.zeros(len(rows), dtype=np.int64)
    for bit, name in enumerate(names):
        frame = book.facts if name in book.facts.columns else book.risks
        if name in frame.columns:
            pattern |= frame[name].iloc[rows].isna().to_numpy(dtype=np.int64) << bit
    out = np.empty(len(rows), dtype=object)
    for p in np.unique(pattern).tolist():
        part = np.flatnonzero(pattern == p)
        batch = Rows(len(part))
        batch.columns = {
            **_fields(trigger, book, rows[part], expr.names),
            "observed_at": of_objects(observed[part]),
        }
        step = batch.run(names, expr, expr.columns, typed(compile_vector(expr), as_value))
        failed = np.flatnonzero(pd.notna(batch.error))
        if len(failed):
            raise BookError(
                f"{book.at(int(rows[part[failed[0]]]))}: the event time of {trigger.name} "
                f"({expr.source}) cannot be computed: {batch.error[failed[0]]}"
            )
        batch.derive(_OUT, step)
        out[part] = batch.columns[_OUT].rows()
    return out


class _Columns:
    """The columns a claim rule may read, as the claim's scope has them (claims.claim_env):
    the trigger's fields over the risk's inputs, derived values as of observed_at, and the
    policy's facts."""

    def __init__(
        self,
        edition: Edition,
        book: Book,
        priced: BatchResult,
        sub: np.ndarray,
        fields: dict[str, Column],
        observed: np.ndarray,
        event: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
    ) -> None:
        self.edition, self.book, self.priced, self.sub = edition, book, priced, sub
        self.fields, self.observed = fields, observed
        self.derived: dict[str, np.ndarray] | None = None
        self.facts: dict[str, Callable[[], np.ndarray]] = {
            "observed_at": lambda: observed,
            "now": lambda: observed,
            "event_time": lambda: event,
            "coverage_start": lambda: start,
            "coverage_end": lambda: end,
            "issued_at": lambda: book.priced_at[sub],
            "premium": lambda: np.array(
                [(priced.premium(int(r)) or {}).get("total") for r in sub], dtype=object
            ),
            "external_ref": lambda: np.array([book.at(int(r)) for r in sub], dtype=object),
        }

    def of(self, name: str) -> Column:
        if name in self.fields:
            return self.fields[name]
        if name in self.facts:
            return of_objects(self.facts[name]())
        if name in self.edition.inputs.by_name:
            return of_objects(self.priced.env[name][self.sub])
        if any(d.spec.name == name for d in self.edition.derived):
            if self.derived is None:
                # a claim's scope computes derived values as of when the fact is observed
                risks = self.book.risks.iloc[self.sub].reset_index(drop=True)
                self.derived = price_frame(self.edition, risks, self.observed).env
            return of_objects(self.derived[name])
        raise BookError(f"{self.edition.ref}: a claim rule reads {name}, which no book gives")


def _datetimes(series: pd.Series) -> np.ndarray:
    """A cover column as Python datetimes (None where not priced)."""
    out = np.empty(len(series), dtype=object)
    out[:] = [_plain(v) for v in series]
    return out


def _plain(value: Any) -> datetime | None:
    # pandas keeps a column of datetimes in one offset as Timestamps
    if value is None or value is pd.NaT:
        return None
    return value.to_pydatetime() if isinstance(value, pd.Timestamp) else value
