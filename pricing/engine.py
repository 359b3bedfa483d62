"""The rating engine: prices one risk on one edition and explains every step.

Arithmetic runs in a fixed decimal context so a premium replays to the cent whatever
the caller's context is. Intermediate values keep full precision; only the rounding
step and the itemised parts are rounded.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from .errors import BreakdownError, EvaluationError
from .model import ROUNDING_MODES, Edition, Rating
from .money import MINOR_UNITS

_CONTEXT = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN)
_ONE = Decimal(1)
_US = timedelta(microseconds=1)


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str


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
class Priced:
    edition: Edition
    risk: dict[str, Any]  # typed values
    env: dict[str, Any]  # inputs, derived values and `now`, as the expressions saw them
    refusals: tuple[Refusal, ...]
    breakdown: Breakdown | None  # None when refused
    worksheet: dict[str, Any]
    coverage_start: datetime | None
    coverage_end: datetime | None

    @property
    def eligible(self) -> bool:
        return not self.refusals


def _s(value: Decimal) -> str:
    return str(value)


def build_env(edition: Edition, risk: dict[str, Any], now: datetime) -> dict[str, Any]:
    env: dict[str, Any] = {"now": now}
    for name, value in risk.items():
        env[name] = value.amount if hasattr(value, "amount") else value
    for d in edition.derived:
        env[d.spec.name] = d.expr(env)
    return env


def _round_to_step(value: Decimal, step: Decimal, mode: str) -> Decimal:
    units = (value / step).quantize(_ONE, rounding=getattr(decimal, ROUNDING_MODES[mode]))
    return units * step


def price(edition: Edition, risk: dict[str, Any], now: datetime) -> Priced:
    """Price an already validated risk (see Edition.inputs.parse) at time `now`."""
    with decimal.localcontext(_CONTEXT):
        return _price(edition, risk, now)


def _price(edition: Edition, risk: dict[str, Any], now: datetime) -> Priced:
    env = build_env(edition, risk, now)
    worksheet: dict[str, Any] = {
        "edition": edition.id,
        "content_hash": edition.content_hash,
        "priced_at": now.isoformat(),
        "inputs": edition.inputs.to_json(risk),
        "derived": {d.spec.name: d.spec.to_json(env[d.spec.name]) for d in edition.derived},
        "steps": [],
    }
    refusals = tuple(
        Refusal(rule.code, rule.message) for rule in edition.eligibility if rule.refuse_when(env)
    )
    if refusals:
        worksheet["refusals"] = [{"code": r.code, "message": r.message} for r in refusals]
        return Priced(edition, risk, env, refusals, None, worksheet, None, None)

    steps: list[dict[str, Any]] = worksheet["steps"]
    rating = edition.rating
    running = rating.base
    steps.append({"step": "base", "value": _s(running), "running": _s(running)})
    for factor in rating.factors:
        hit = factor.table.lookup(env)
        running = running * hit.value
        keys = factor.table.keys if hasattr(factor.table, "keys") else (factor.table.key,)
        steps.append(
            {
                "step": "factor",
                "name": factor.name,
                "lookup": {k: _json(env[k]) for k in keys},
                "factor": _s(hit.value),
                "source": hit.source,
                "running": _s(running),
            }
        )
    for loading in rating.loadings:
        applies = loading.when is None or bool(loading.when(env))
        entry: dict[str, Any] = {"step": "loading", "name": loading.name, "applied": applies}
        if loading.rate is not None:
            entry["rate"] = _s(loading.rate)
            if applies:
                running = running * (_ONE + loading.rate)
        else:
            assert loading.amount is not None
            entry["amount"] = _s(loading.amount)
            if applies:
                running = running + loading.amount
        entry["running"] = _s(running)
        steps.append(entry)
    if rating.minimum is not None:
        applied = running < rating.minimum
        running = max(running, rating.minimum)
        steps.append(
            {
                "step": "minimum",
                "value": _s(rating.minimum),
                "applied": applied,
                "running": _s(running),
            }
        )
    if rating.maximum is not None:
        applied = running > rating.maximum
        running = min(running, rating.maximum)
        steps.append(
            {
                "step": "maximum",
                "value": _s(rating.maximum),
                "applied": applied,
                "running": _s(running),
            }
        )
    rounded = _round_to_step(running, rating.rounding_step, rating.rounding_mode)
    steps.append(
        {
            "step": "rounding",
            "mode": rating.rounding_mode,
            "to": _s(rating.rounding_step),
            "running": _s(rounded),
        }
    )
    breakdown = itemise(rating, edition.currency, rounded)
    steps.append(
        {
            "step": "tax",
            "name": rating.tax_name,
            "rate": _s(rating.tax_rate),
            "basis": rating.tax_basis,
            "amount": _s(breakdown.tax),
        }
    )
    steps.append(
        {
            "step": "commission",
            "rate": _s(rating.commission_rate),
            "amount": _s(breakdown.commission),
        }
    )
    for fee in rating.fees:
        steps.append(
            {"step": "fee", "name": fee.name, "amount": _s(_q(fee.amount, edition.currency))}
        )
    steps.append(
        {"step": "net", "amount": _s(breakdown.net), "note": "total - tax - commission - fees"}
    )
    steps.append({"step": "total", "amount": _s(breakdown.total), "currency": breakdown.currency})

    start = edition.coverage_starts(env)
    end = edition.coverage_ends(env)
    check_cover(edition, start, end)
    worksheet["coverage"] = {"starts": start.isoformat(), "ends": end.isoformat()}
    too_long = cover_too_long(edition, start, end)
    if too_long is not None:
        worksheet["refusals"] = [{"code": too_long.code, "message": too_long.message}]
        return Priced(edition, risk, env, (too_long,), None, worksheet, None, None)
    return Priced(edition, risk, env, (), breakdown, worksheet, start, end)


COVER_TOO_LONG = "cover_too_long"


def cover_too_long(edition: Edition, start: datetime, end: datetime) -> Refusal | None:
    """The edition's longest cover (coverage.longest) refuses a longer one."""
    longest = edition.longest_cover
    if longest is None or end - start <= longest:
        return None
    return Refusal(
        COVER_TOO_LONG,
        f"The cover would last {_days(end - start)}; this product covers at most {_days(longest)}.",
    )


def _days(delta: timedelta) -> str:
    days = Decimal(delta // _US) / Decimal(86_400_000_000)
    return f"{days.quantize(Decimal('0.1'))} days"


def check_cover(edition: Edition, start: Any, end: Any) -> None:
    """A cover is two date-times, the start before the end; else the edition is broken."""
    if not isinstance(start, datetime) or not isinstance(end, datetime) or not start < end:
        raise EvaluationError(
            f"{edition.ref}: coverage must start before it ends, got {start!r} .. {end!r}"
        )


def premium_from(
    rating: Rating, currency: str, factors: Sequence[Decimal], loadings: Sequence[bool]
) -> Breakdown:
    """The premium for given factor values and loading conditions: _price's arithmetic,
    step for step, without its worksheet. The batch path prices each distinct combination
    once with it; a property test holds the two to the same result for every risk."""
    with decimal.localcontext(_CONTEXT):
        running = rating.base
        for value in factors:
            running = running * value
        for loading, applies in zip(rating.loadings, loadings, strict=True):
            if loading.rate is not None:
                if applies:
                    running = running * (_ONE + loading.rate)
            elif applies:
                assert loading.amount is not None
                running = running + loading.amount
        if rating.minimum is not None:
            running = max(running, rating.minimum)
        if rating.maximum is not None:
            running = min(running, rating.maximum)
        rounded = _round_to_step(running, rating.rounding_step, rating.rounding_mode)
        return itemise(rating, currency, rounded)


def _q(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(
        Decimal(1).scaleb(-MINOR_UNITS[currency]), rounding=decimal.ROUND_HALF_UP
    )


def itemise(rating: Rating, cur: str, premium: Decimal) -> Breakdown:
    """Split a rounded premium into net, tax, commission and fees that sum to it exactly."""
    if rating.tax_basis == "inclusive":
        total = _q(premium, cur)
        tax = _q(total * rating.tax_rate / (_ONE + rating.tax_rate), cur)
    else:
        before_tax = _q(premium, cur)
        tax = _q(before_tax * rating.tax_rate, cur)
        total = before_tax + tax
    commission = _q((total - tax) * rating.commission_rate, cur)
    fees = sum((_q(f.amount, cur) for f in rating.fees), Decimal(0))
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


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def refund_for(
    edition: Edition,
    total: Decimal,
    risk: dict[str, Any],
    coverage_start: datetime,
    coverage_end: datetime,
    issued_at: datetime,
    now: datetime,
) -> tuple[Decimal, int]:
    """The refund on cancellation at `now` of a policy on the (parsed) `risk`, and the
    index of the rule that decided it."""
    with decimal.localcontext(_CONTEXT):
        scope = {
            **build_env(edition, risk, now),
            "coverage_start": coverage_start,
            "coverage_end": coverage_end,
            "issued_at": issued_at,
        }
        for i, rule in enumerate(edition.cancellation):
            if rule.when is not None and not rule.when(scope):
                continue
            if rule.refund == "full":
                amount = total
            elif rule.refund == "none":
                amount = Decimal(0)
            elif rule.refund == "ratio":
                assert rule.ratio is not None
                amount = total * rule.ratio
            else:  # pro_rata on the unexpired share of the cover
                length = coverage_end - coverage_start
                remaining = min(max(coverage_end - now, timedelta(0)), length)
                amount = total * Decimal(remaining // _US) / Decimal(length // _US)
            return min(_q(amount, edition.currency), total), i
    raise EvaluationError(f"{edition.ref}: no cancellation rule applies")  # loader forbids it
