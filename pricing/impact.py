"""What a new edition does to a book: every risk priced on both editions (the batch path),
then counted: how many premiums change and by how much, the total, who gains and loses
eligibility, and the segments that move most."""

from __future__ import annotations

import json
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


def _json_text(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def impact(
    product: str,
    a: Edition,
    b: Edition,
    risks: pd.DataFrame,
    times: datetime | list[datetime],
    book: str,
    top: int = 10,
) -> ImpactReport:
    """Price the book on both editions (each risk at its time) and count the difference."""
    report = ImpactReport(product, a.id, b.id, book, b.currency, rows=len(risks))
    if a.currency != b.currency:
        raise LookupError(f"{a.ref} is in {a.currency}, {b.ref} in {b.currency}")
    if not len(risks):
        report.bands = [(label, 0) for label, _, _ in BANDS]
        return report
    on_a = price_frame(a, risks, times)
    on_b = price_frame(b, risks, times)
    ok_a = (on_a.frame["status"] == PRICED).to_numpy()
    ok_b = (on_b.frame["status"] == PRICED).to_numpy()
    report.lose_cover = int((ok_a & ~ok_b).sum())
    report.gain_cover = int((~ok_a & ok_b).sum())
    refused = on_b.frame.loc[ok_a & ~ok_b, "error"].dropna()
    report.refusal_codes_b = {str(k): int(v) for k, v in refused.value_counts().head(20).items()}
    bad = ~ok_a & ~ok_b
    report.unpriceable = int(bad.sum())
    reasons = on_b.frame.loc[bad, "error"].dropna().astype(str).value_counts().head(10)
    report.unpriceable_reasons = {str(k): int(v) for k, v in reasons.items()}
    both = ok_a & ok_b
    report.priced_both = int(both.sum())
    total_a = on_a.frame["total_minor"].to_numpy(dtype="float64", na_value=0).astype(np.int64)
    total_b = on_b.frame["total_minor"].to_numpy(dtype="float64", na_value=0).astype(np.int64)
    exp = MINOR_UNITS[b.currency]
    report.total_a = Decimal(int(total_a[both].sum())).scaleb(-exp)
    report.total_b = Decimal(int(total_b[both].sum())).scaleb(-exp)
    delta = (total_b - total_a)[both]
    report.changed = int((delta != 0).sum())
    pct = np.where(
        total_a[both] > 0, delta / np.where(total_a[both] > 0, total_a[both], 1) * 100, 0.0
    )
    for label, low, high in BANDS:
        if low == high:
            count = int((delta == 0).sum())
        else:
            count = int(((pct >= low) & (pct < high) & (delta != 0)).sum())
        report.bands.append((label, count))
    report.movers = _movers(risks[both], on_b.env, both, delta, pct, exp, top)
    return report


def _movers(
    risks: pd.DataFrame,
    env: dict[str, np.ndarray],
    both: np.ndarray,
    delta: np.ndarray,
    pct: np.ndarray,
    exp: int,
    top: int,
) -> list[Mover]:
    columns: dict[str, np.ndarray] = {}
    for name in risks.columns:
        values = risks[name].astype(str).to_numpy()
        if len(set(values)) <= SEGMENT_LEVELS:
            columns[name] = values
    for name, values in env.items():
        if name in columns or name == "now" or name in risks.columns:
            continue
        kept = np.array([str(v) for v in values[both]], dtype=object)
        if len(set(kept)) <= SEGMENT_LEVELS:
            columns[name] = kept
    movers = []
    frame = pd.DataFrame({"delta": delta, "pct": pct})
    for name, values in columns.items():
        grouped = frame.groupby(values)
        stats = grouped.agg(
            policies=("delta", "size"), total=("delta", "sum"), mean=("pct", "mean")
        )
        for level, row in stats.iterrows():
            if row["total"]:
                movers.append(
                    Mover(
                        name,
                        str(level),
                        int(row["policies"]),
                        float(row["mean"]),
                        Decimal(int(row["total"])).scaleb(-exp),
                    )
                )
    movers.sort(key=lambda m: abs(m.total_change), reverse=True)
    return movers[:top]
