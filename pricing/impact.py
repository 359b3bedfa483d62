"""What a new edition does to a book: every risk priced on both editions (the batch path),
then counted: how many premiums change and by how much, the total, who gains and loses
eligibility, and the segments that move most."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .batch import PRICED, price_frame
from .model import Edition
from .money import MINOR_UNITS

#: % change bands, as (label, lower bound inclusive, upper bound exclusive)
BANDS: tuple[tuple[str, float, float], ...] = (
    ("< -20%", -np.inf, -20),
    ("-20% .. -10%", -20, -10),
    ("-10% .. -5%", -10, -5),
    ("-5% .. 0%", -5, 0),
    ("unchanged", 0, 0),
    ("0% .. 5%", 0, 5),
    ("5% .. 10%", 5, 10),
    ("10% .. 20%", 10, 20),
    ("> 20%", 20, np.inf),
)
#: a column with at most this many distinct values is a segment
SEGMENT_LEVELS = 60
#: % changes are summed in millionths of a percent
PCT_SCALE = 1_000_000


@dataclass
class Mover:
    segment: str
    level: str
    policies: int
    mean_change_pct: float
    total_change: Decimal


@dataclass
class ImpactReport:
    product: str
    edition_a: str
    edition_b: str
    book: str
    currency: str
    rows: int = 0
    priced_both: int = 0
    changed: int = 0
    total_a: Decimal = Decimal(0)
    total_b: Decimal = Decimal(0)
    bands: list[tuple[str, int]] = field(default_factory=list)
    #: priced on A but refused or failing on B, and the reverse
    lose_cover: int = 0
    gain_cover: int = 0
    refusal_codes_b: dict[str, int] = field(default_factory=dict)
    #: rows neither edition could price (bad input or a failing rule), with top reasons
    unpriceable: int = 0
    unpriceable_reasons: dict[str, int] = field(default_factory=dict)
    movers: list[Mover] = field(default_factory=list)

    @property
    def change_pct(self) -> float:
        return float((self.total_b - self.total_a) / self.total_a * 100) if self.total_a else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "from": self.edition_a,
            "to": self.edition_b,
            "book": self.book,
            "rows": self.rows,
            "priced_on_both": self.priced_both,
            "changed": self.changed,
            "total_premium": {
                "from": str(self.total_a),
                "to": str(self.total_b),
                "change": str(self.total_b - self.total_a),
                "change_pct": round(self.change_pct, 3),
                "currency": self.currency,
            },
            "change_bands": dict(self.bands),
            "eligibility": {
                "lose_cover": self.lose_cover,
                "gain_cover": self.gain_cover,
                "refusals_on_new": self.refusal_codes_b,
            },
            "unpriceable": {"rows": self.unpriceable, "reasons": self.unpriceable_reasons},
            "biggest_movers": [
                {
                    "segment": m.segment,
                    "level": m.level,
                    "policies": m.policies,
                    "mean_change_pct": round(m.mean_change_pct, 3),
                    "total_change": str(m.total_change),
                }
                for m in self.movers
            ],
        }


def read_book_file(path: Path) -> pd.DataFrame:
    """A book as a file: CSV or Parquet, one column per input (money as two columns
    NAME.amount and NAME.currency, or as JSON text), and optionally `priced_at`."""
    if not path.is_file():
        raise LookupError(f"{path}: no such file")
    if path.suffix.lower() == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except ImportError:
            raise LookupError(
                f"{path}: reading Parquet needs pyarrow (pip install pyarrow)"
            ) from None
    elif path.suffix.lower() == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False).replace({"": None})
    else:
        raise LookupError(f"{path}: give a .csv or .parquet file")
    return normalise_book(frame, path)


def normalise_book(frame: pd.DataFrame, path: Path | str) -> pd.DataFrame:
    """A book file's rows as risks: money from its two columns, JSON text as objects."""
    frame = frame.astype(object).where(frame.notna(), None)
    for name in {c[: -len(".amount")] for c in frame.columns if str(c).endswith(".amount")}:
        if f"{name}.currency" not in frame.columns:
            raise LookupError(f"{path}: {name}.amount needs a {name}.currency column")
        amounts, currencies = frame.pop(f"{name}.amount"), frame.pop(f"{name}.currency")
        frame[name] = [
            None if a is None else {"amount": str(a), "currency": c}
            for a, c in zip(amounts, currencies, strict=True)
        ]
    for column in frame.columns:
        if column != "priced_at":
            frame[column] = [_json_text(v) for v in frame[column]]
    return frame


def book_times(
    frame: pd.DataFrame, book: str, now: datetime
) -> tuple[pd.DataFrame, datetime | list[datetime]]:
    """The time to price each row at: its `priced_at` (taken out of the frame), else now."""
    if "priced_at" not in frame.columns:
        return frame, now
    times = []
    for row, value in enumerate(frame.pop("priced_at"), start=2):
        try:
            when = (
                now
                if value is None
                else pd.Timestamp(value).to_pydatetime()
                if not isinstance(value, str)
                else datetime.fromisoformat(value)
            )
        except ValueError:
            raise LookupError(f"{book}: row {row}: priced_at {value!r} is not a time") from None
        if when.tzinfo is None:
            raise LookupError(f"{book}: row {row}: priced_at {value!r} needs a UTC offset")
        times.append(when)
    return frame, times


def _json_text(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


#: rows priced at a time: progress moves per chunk, and memory stays bounded by it
CHUNK_ROWS = 50_000

#: called with (rows done, rows in all) as the pricing goes
Progress = Callable[[int, int], None]


@dataclass
class ImpactPart:
    """What one slice of a book adds to the report. Parts merge (sums and counts), so a
    book can be priced a slice at a time, on one process or on many."""

    rows: int = 0
    priced_both: int = 0
    changed: int = 0
    total_a_minor: int = 0
    total_b_minor: int = 0
    lose_cover: int = 0
    gain_cover: int = 0
    unpriceable: int = 0
    bands: Counter[str] = field(default_factory=Counter)
    refusal_codes_b: Counter[str] = field(default_factory=Counter)
    unpriceable_reasons: Counter[str] = field(default_factory=Counter)
    #: segment -> level -> [policies, total change (minor units), sum of % changes in
    #: millionths of a percent (integers: the sum is the same in any order, so a book
    #: priced in slices on many processes gives the very same report)]; None once the
    #: segment has more than SEGMENT_LEVELS levels (not a segment)
    segments: dict[str, dict[str, list[Any]] | None] = field(default_factory=dict)

    def merge(self, other: ImpactPart) -> ImpactPart:
        for name in ("rows", "priced_both", "changed", "total_a_minor", "total_b_minor"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("lose_cover", "gain_cover", "unpriceable"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.bands.update(other.bands)
        self.refusal_codes_b.update(other.refusal_codes_b)
        self.unpriceable_reasons.update(other.unpriceable_reasons)
        for name, levels in other.segments.items():
            mine = self.segments.setdefault(name, {})
            if mine is None or levels is None:
                self.segments[name] = None
                continue
            for level, (n, total, pct) in levels.items():
                acc = mine.setdefault(level, [0, 0, 0])
                acc[0], acc[1], acc[2] = acc[0] + n, acc[1] + total, acc[2] + pct
            if len(mine) > SEGMENT_LEVELS:
                self.segments[name] = None
        return self


def impact(
    product: str,
    a: Edition,
    b: Edition,
    risks: pd.DataFrame,
    times: datetime | list[datetime],
    book: str,
    top: int = 10,
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ImpactReport:
    """Price the book on both editions (each risk at its time), a chunk at a time, and
    count the difference."""
    if a.currency != b.currency:
        raise LookupError(f"{a.ref} is in {a.currency}, {b.ref} in {b.currency}")
    total = price_book(a, b, risks, times, progress, chunk_rows)
    return report_of(product, a, b, book, total, top)


def price_book(
    a: Edition,
    b: Edition,
    risks: pd.DataFrame,
    times: datetime | list[datetime],
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ImpactPart:
    """A book (or a slice of one) priced on both editions a chunk at a time, counted."""
    total = ImpactPart()
    for start in range(0, len(risks), chunk_rows):
        end = min(start + chunk_rows, len(risks))
        at = times if isinstance(times, datetime) else times[start:end]
        total.merge(impact_part(a, b, risks.iloc[start:end].reset_index(drop=True), at))
        if progress is not None:
            progress(end, len(risks))
    return total


def impact_part(
    a: Edition, b: Edition, risks: pd.DataFrame, times: datetime | list[datetime]
) -> ImpactPart:
    """One slice of a book priced on both editions and counted."""
    part = ImpactPart(rows=len(risks))
    if not len(risks):
        return part
    on_a = price_frame(a, risks, times)
    on_b = price_frame(b, risks, times)
    ok_a = (on_a.frame["status"] == PRICED).to_numpy()
    ok_b = (on_b.frame["status"] == PRICED).to_numpy()
    part.lose_cover = int((ok_a & ~ok_b).sum())
    part.gain_cover = int((~ok_a & ok_b).sum())
    refused = on_b.frame.loc[ok_a & ~ok_b, "error"].dropna().astype(str)
    part.refusal_codes_b = Counter(refused)
    bad = ~ok_a & ~ok_b
    part.unpriceable = int(bad.sum())
    part.unpriceable_reasons = Counter(on_b.frame.loc[bad, "error"].dropna().astype(str))
    both = ok_a & ok_b
    part.priced_both = int(both.sum())
    total_a = on_a.frame["total_minor"].to_numpy(dtype="float64", na_value=0).astype(np.int64)
    total_b = on_b.frame["total_minor"].to_numpy(dtype="float64", na_value=0).astype(np.int64)
    part.total_a_minor = int(total_a[both].sum())
    part.total_b_minor = int(total_b[both].sum())
    delta = (total_b - total_a)[both]
    part.changed = int((delta != 0).sum())
    pct = np.where(
        total_a[both] > 0, delta / np.where(total_a[both] > 0, total_a[both], 1) * 100, 0.0
    )
    for label, low, high in BANDS:
        if low == high:
            part.bands[label] = int((delta == 0).sum())
        else:
            part.bands[label] = int(((pct >= low) & (pct < high) & (delta != 0)).sum())
    part.segments = _segments(risks[both], on_b.env, both, delta, pct)
    return part


def report_of(
    product: str, a: Edition, b: Edition, book: str, part: ImpactPart, top: int = 10
) -> ImpactReport:
    """The report from the merged parts of a whole book."""
    exp = MINOR_UNITS[b.currency]
    report = ImpactReport(product, a.id, b.id, book, b.currency, rows=part.rows)
    report.priced_both, report.changed = part.priced_both, part.changed
    report.total_a = Decimal(part.total_a_minor).scaleb(-exp)
    report.total_b = Decimal(part.total_b_minor).scaleb(-exp)
    report.lose_cover, report.gain_cover = part.lose_cover, part.gain_cover
    report.refusal_codes_b = _most_common(part.refusal_codes_b, 20)
    report.unpriceable = part.unpriceable
    report.unpriceable_reasons = _most_common(part.unpriceable_reasons, 10)
    report.bands = [(label, part.bands[label]) for label, _, _ in BANDS]
    movers = [
        Mover(name, level, n, pct / PCT_SCALE / n, Decimal(total).scaleb(-exp))
        for name, levels in part.segments.items()
        if levels is not None
        for level, (n, total, pct) in sorted(levels.items())
        if total
    ]
    movers.sort(key=lambda m: (-abs(m.total_change), m.segment, m.level))
    report.movers = movers[:top]
    return report


def _most_common(counts: Counter[str], n: int) -> dict[str, int]:
    """The n largest counts, ties by name: the same whatever order the parts came in."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n])


def _segments(
    risks: pd.DataFrame,
    env: dict[str, np.ndarray],
    both: np.ndarray,
    delta: np.ndarray,
    pct: np.ndarray,
) -> dict[str, dict[str, list[Any]] | None]:
    """Per segment and level: policies, total change and the sum of % changes."""
    columns: dict[str, np.ndarray] = {}
    for name in risks.columns:
        columns[name] = risks[name].astype(str).to_numpy()
    for name, values in env.items():
        if name in columns or name == "now":
            continue
        columns[name] = np.array([str(v) for v in values[both]], dtype=object)
    micro = np.rint(pct * PCT_SCALE).astype(np.int64)
    frame = pd.DataFrame({"delta": delta, "pct": micro})
    segments: dict[str, dict[str, list[Any]] | None] = {}
    for name, values in columns.items():
        if len(set(values)) > SEGMENT_LEVELS:
            segments[name] = None
            continue
        stats = frame.groupby(values).agg(
            policies=("delta", "size"), total=("delta", "sum"), pct=("pct", "sum")
        )
        segments[name] = {
            str(level): [int(row["policies"]), int(row["total"]), int(row["pct"])]
            for level, row in stats.iterrows()
        }
    return segments
