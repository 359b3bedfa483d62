"""The premium's arithmetic: from factor values and loadings to a rounded premium split
into parts that sum to it exactly.

It runs in a fixed decimal context so a premium replays to the cent whatever the caller's
context is. Intermediate values keep full precision; only the rounding step and the
itemised parts are rounded. The scalar engine (through its plan's memo) and the batch
path both price through `trace`, so they cannot disagree on the arithmetic.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .errors import BreakdownError
from .model import Rating
from .money import MINOR_UNITS

CONTEXT = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN)
#: the most combinations a plan's memos remember; past it a memo starts again
MEMO_SIZE = 65_536
_ONE = Decimal(1)
_ROUNDING = {
    "half_up": decimal.ROUND_HALF_UP,
    "half_even": decimal.ROUND_HALF_EVEN,
    "half_down": decimal.ROUND_HALF_DOWN,
    "up": decimal.ROUND_UP,
    "down": decimal.ROUND_DOWN,
    "ceiling": decimal.ROUND_CEILING,
    "floor": decimal.ROUND_FLOOR,
}


@dataclass(frozen=True)
class Breakdown:
    """The premium and its parts, all quantized to the currency; parts sum to total."""

    currency: str
    net: Decimal
    tax: Decimal
    commission: Decimal
    fees: Decimal
    total: Decimal

    def parts(self) -> dict[str, Decimal]:
        return {"net": self.net, "tax": self.tax, "commission": self.commission, "fees": self.fees}


@dataclass(frozen=True)
class Trace:
    """One combination of factor values and loadings: its premium, and the running
    premium after each step as the worksheet shows it."""

    breakdown: Breakdown
    applies: tuple[bool, ...]
    #: the running premium after each factor, and after each loading
    factors: tuple[str, ...]
    loadings: tuple[str, ...]
    #: (applied, running) of the minimum and the maximum, when the rating has them
    minimum: tuple[bool, str] | None
    maximum: tuple[bool, str] | None
    rounded: str
    #: the steps after rounding (tax, commission, fees, net, total); copy before changing
    tail: tuple[dict[str, Any], ...]


def trace(
    rating: Rating, currency: str, factors: Sequence[Decimal], applies: Sequence[bool]
) -> Trace:
    """The premium for given factor values and loading conditions, step by step."""
    with decimal.localcontext(CONTEXT):
        running = rating.base
        after_factors = []
        for value in factors:
            running = running * value
            after_factors.append(str(running))
        after_loadings = []
        for loading, applied in zip(rating.loadings, applies, strict=True):
            if applied:
                if loading.rate is not None:
                    running = running * (_ONE + loading.rate)
                else:
                    assert loading.amount is not None
                    running = running + loading.amount
            after_loadings.append(str(running))
        minimum = maximum = None
        if rating.minimum is not None:
            applied = running < rating.minimum
            running = max(running, rating.minimum)
            minimum = (applied, str(running))
        if rating.maximum is not None:
            applied = running > rating.maximum
            running = min(running, rating.maximum)
            maximum = (applied, str(running))
        rounded = round_to_step(running, rating.rounding_step, rating.rounding_mode)
        breakdown = itemise(rating, currency, rounded)
        return Trace(
            breakdown,
            tuple(applies),
            tuple(after_factors),
            tuple(after_loadings),
            minimum,
            maximum,
            str(rounded),
            _tail(rating, currency, breakdown),
        )


def premium_from(
    rating: Rating, currency: str, factors: Sequence[Decimal], loadings: Sequence[bool]
) -> Breakdown:
    """The premium for given factor values and loading conditions (the batch path prices
    each distinct combination once with it)."""
    return trace(rating, currency, factors, loadings).breakdown


def _tail(rating: Rating, currency: str, b: Breakdown) -> tuple[dict[str, Any], ...]:
    return (
        {
            "step": "tax",
            "name": rating.tax_name,
            "rate": str(rating.tax_rate),
            "basis": rating.tax_basis,
            "amount": str(b.tax),
        },
        {"step": "commission", "rate": str(rating.commission_rate), "amount": str(b.commission)},
        *(
            {"step": "fee", "name": fee.name, "amount": str(quantize(fee.amount, currency))}
            for fee in rating.fees
        ),
        {"step": "net", "amount": str(b.net), "note": "total - tax - commission - fees"},
        {"step": "total", "amount": str(b.total), "currency": b.currency},
    )


def round_to_step(value: Decimal, step: Decimal, mode: str) -> Decimal:
    units = (value / step).quantize(_ONE, rounding=_ROUNDING[mode])
    return units * step


def quantize(amount: Decimal, currency: str) -> Decimal:
    """To the currency's minor unit, half up."""
    return amount.quantize(
        Decimal(1).scaleb(-MINOR_UNITS[currency]), rounding=decimal.ROUND_HALF_UP
    )


def itemise(rating: Rating, cur: str, premium: Decimal) -> Breakdown:
    """Split a rounded premium into net, tax, commission and fees that sum to it exactly."""
    with decimal.localcontext(CONTEXT):
        if rating.tax_basis == "inclusive":
            total = quantize(premium, cur)
            tax = quantize(total * rating.tax_rate / (_ONE + rating.tax_rate), cur)
        else:
            before_tax = quantize(premium, cur)
            tax = quantize(before_tax * rating.tax_rate, cur)
            total = before_tax + tax
        commission = quantize((total - tax) * rating.commission_rate, cur)
        fees = sum((quantize(f.amount, cur) for f in rating.fees), Decimal(0))
        net = total - tax - commission - fees
        result = Breakdown(cur, net, tax, commission, fees, total)
        check_breakdown(result)
        return result


def check_breakdown(b: Breakdown) -> None:
    """Refuse a breakdown with a negative part, an unrounded part, or parts that miss the total."""
    quantum = Decimal(1).scaleb(-MINOR_UNITS[b.currency])
    for name, value in (*b.parts().items(), ("total", b.total)):
        if value < 0:
            raise BreakdownError(f"{name} would be negative ({value} {b.currency})")
        if value != value.quantize(quantum):
            raise BreakdownError(f"{name} is not rounded to the currency ({value})")
    if sum(b.parts().values(), Decimal(0)) != b.total:
        raise BreakdownError(f"parts {b.parts()} do not sum to the total {b.total}")
