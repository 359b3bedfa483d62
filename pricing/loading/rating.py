"""The rating section: base, factors (tables), loadings, limits, rounding, tax, commission
and fees; the parts must still sum at the lowest premium."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from .. import engine
from ..errors import (
    BreakdownError,
)
from ..inputs import InputSpec
from ..model import (
    ROUNDING_MODES,
    Factor,
    Fee,
    Loading,
    Rating,
)
from ..money import MINOR_UNITS
from ..source import Path_
from ..tables import BandTable, ExactTable
from ..typecheck import BOOL, Type
from .reader import Collect, Reader
from .tables import band_table, check_monotonic, exact_table


def load_rating(
    r: Reader,
    folder: Path,
    display_dir: str,
    specs: dict[str, InputSpec],
    known: Mapping[str, Type],
    tz: Any,
    currency: str,
    out: Collect,
) -> Rating | None:
    before = len(out.errors)
    allowed = {
        "base",
        "factors",
        "loadings",
        "minimum",
        "maximum",
        "rounding",
        "tax",
        "commission",
        "fees",
    }
    if r.mapping(("rating",), allowed, {"base", "rounding", "tax", "commission"}) is None:
        return None
    base = r.decimal(("rating", "base"), positive=True)
    factors: list[Factor] = []
    names: set[str] = set()
    for i, _ in enumerate(r.items(("rating", "factors"))):
        path: Path_ = ("rating", "factors", i)
        f = r.mapping(
            path, {"name", "lookup", "table", "bands", "default", "monotonic"}, {"name", "lookup"}
        )
        if f is None:
            continue
        name = r.text((*path, "name"))
        if name in names:
            r.fail((*path, "name"), f"duplicate factor name {name!r}")
        names.add(name)
        lookup = f.get("lookup")
        keys = tuple(lookup) if isinstance(lookup, list) else (lookup,)
        unknown = [k for k in keys if k not in specs]
        if unknown or not keys:
            r.fail(
                (*path, "lookup"),
                f"unknown input(s) {', '.join(map(str, unknown))}; declare them under inputs or derived",
            )
            continue
        default = r.decimal((*path, "default"), required=False, positive=True)
        if ("table" in f) == ("bands" in f):
            r.fail(path, "give exactly one of table (exact keys) or bands (from,to ranges)")
            continue
        file_name = f.get("table") or f.get("bands")
        if not isinstance(file_name, str) or "/" in file_name or file_name.startswith("."):
            r.fail(
                (*path, "table" if "table" in f else "bands"),
                "must name a CSV file beside edition.yaml",
            )
            continue
        csv_file, display = folder / file_name, f"{display_dir}/{file_name}"
        table: ExactTable | BandTable | None
        if "table" in f:
            table = exact_table(csv_file, display, keys, specs, default, out)
        else:
            if len(keys) != 1:
                r.fail((*path, "lookup"), "bands look up exactly one numeric input")
                continue
            table = band_table(csv_file, display, keys[0], specs[keys[0]], default, out)
        if table is not None:
            factors.append(Factor(name, table))
            if "monotonic" in f:
                check_monotonic(r, (*path, "monotonic"), name, table, specs)

    loadings: list[Loading] = []
    for i, _ in enumerate(r.items(("rating", "loadings"))):
        path = ("rating", "loadings", i)
        if r.mapping(path, {"name", "rate", "amount", "when"}, {"name"}) is None:
            continue
        rate = r.decimal((*path, "rate"), required=False)
        amount = r.decimal((*path, "amount"), required=False)
        if (rate is None) == (amount is None):
            r.fail(path, "give exactly one of rate (multiplies by 1 + rate) or amount (adds)")
        when = r.expression((*path, "when"), known, tz, BOOL, required=False)
        loadings.append(Loading(r.text((*path, "name")), rate, amount, when))

    minimum = r.decimal(("rating", "minimum"), required=False, positive=True)
    maximum = r.decimal(("rating", "maximum"), required=False, positive=True)
    if minimum is not None and maximum is not None and minimum > maximum:
        r.fail(("rating", "minimum"), f"minimum {minimum} is above maximum {maximum}")

    r.mapping(("rating", "rounding"), {"step", "mode"}, {"step", "mode"})
    step = r.decimal(("rating", "rounding", "step"), positive=True)
    mode = r.text(("rating", "rounding", "mode"))
    if mode and mode not in ROUNDING_MODES:
        r.fail(
            ("rating", "rounding", "mode"),
            f"unknown rounding mode {mode!r}; one of {', '.join(ROUNDING_MODES)}",
        )
    quantum = Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2))
    if step is not None and step % quantum != 0:
        r.fail(("rating", "rounding", "step"), f"must be a multiple of {quantum} {currency}")

    r.mapping(("rating", "tax"), {"name", "rate", "basis"}, {"name", "rate", "basis"})
    tax_rate = r.decimal(("rating", "tax", "rate"))
    basis = r.text(("rating", "tax", "basis"))
    if basis and basis not in ("inclusive", "added"):
        r.fail(
            ("rating", "tax", "basis"),
            "must be inclusive (tax inside the premium) or added (on top)",
        )
    r.mapping(("rating", "commission"), {"rate"}, {"rate"})
    commission = r.decimal(("rating", "commission", "rate"))
    if commission is not None and commission >= 1:
        r.fail(("rating", "commission", "rate"), "must be below 1")
    fees: list[Fee] = []
    for i, _ in enumerate(r.items(("rating", "fees"))):
        path = ("rating", "fees", i)
        if r.mapping(path, {"name", "amount"}, {"name", "amount"}) is None:
            continue
        amount = r.decimal((*path, "amount"))  # its decimals: edition_checks, as all money
        if amount is not None:
            fees.append(Fee(r.text((*path, "name")), amount))
    if len(out.errors) > before:
        return None
    assert base is not None and step is not None and tax_rate is not None and commission is not None
    rating = Rating(
        base,
        tuple(factors),
        tuple(loadings),
        minimum,
        maximum,
        step,
        mode,
        r.text(("rating", "tax", "name")),
        tax_rate,
        basis,
        commission,
        tuple(fees),
    )
    check_parts(rating, r, currency)
    return rating


def check_parts(rating: Rating, r: Reader, currency: str) -> None:
    """The smallest premium must still leave a net premium: tax, commission and fees must fit in it."""
    lowest = rating.minimum if rating.minimum is not None else rating.rounding_step
    try:
        engine.itemise(rating, currency, lowest)
    except BreakdownError as exc:
        r.fail(("rating",), f"parts do not sum at the lowest premium {lowest} {currency}: {exc}")
