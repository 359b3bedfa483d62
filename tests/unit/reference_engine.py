"""The rating engine as it was written before pricing plans: every step interpreted, the
worksheet built as it goes. Kept only as the oracle the plan is held to
(test_pricing_plan.py): same refusals, premium, cover, worksheet and errors."""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pricing.engine import Breakdown, Refusal, check_cover, cover_too_long, itemise
from pricing.model import ROUNDING_MODES, Edition
from pricing.premium import CONTEXT, quantize
from pricing.tables import ValueTable, key_text

_ONE = Decimal(1)


@dataclass(frozen=True)
class Reference:
    edition: Edition
    risk: dict[str, Any]
    env: dict[str, Any]
    refusals: tuple[Refusal, ...]
    breakdown: Breakdown | None
    worksheet: dict[str, Any]
    coverage_start: datetime | None
    coverage_end: datetime | None


def _s(value: Decimal) -> str:
    return str(value)


def build_env(edition: Edition, risk: dict[str, Any], now: datetime) -> dict[str, Any]:
    env: dict[str, Any] = {"now": now}
    for name, value in risk.items():
        env[name] = value.amount if hasattr(value, "amount") else value
    for d in edition.derived:
        if d.expr is not None:
            env[d.spec.name] = d.expr(env)
        else:
            assert d.table is not None
            env[d.spec.name] = _looked_up(d.table, env)
    return env


def _looked_up(table: ValueTable, env: dict[str, Any]) -> Any:
    """The row whose key cells are the texts of the key values, row by row; an absent
    key value matches no row."""
    values = [env[k] for k in table.keys]
    if all(v is not None for v in values):
        texts = tuple(key_text(v) for v in values)
        for key, value in table.rows.items():
            if key == texts:
                return value
    if table.default is not None:
        return table.default
    return table.lookup(env)  # no row and no default: the table's own error


def _round_to_step(value: Decimal, step: Decimal, mode: str) -> Decimal:
    units = (value / step).quantize(_ONE, rounding=getattr(decimal, ROUNDING_MODES[mode]))
    return units * step


def price(edition: Edition, risk: dict[str, Any], now: datetime) -> Reference:
    """The reference price of a parsed risk at `now`."""
    with decimal.localcontext(CONTEXT):
        return _price(edition, risk, now)


def _price(edition: Edition, risk: dict[str, Any], now: datetime) -> Reference:
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
        return Reference(edition, risk, env, refusals, None, worksheet, None, None)

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
            {"step": "fee", "name": fee.name, "amount": _s(quantize(fee.amount, edition.currency))}
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
        return Reference(edition, risk, env, (too_long,), None, worksheet, None, None)
    return Reference(edition, risk, env, (), breakdown, worksheet, start, end)


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
