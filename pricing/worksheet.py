"""A priced risk's worksheet: every step from the inputs to the premium, as JSON.

Built only when read. The rating steps of a worksheet depend on nothing but the table
rows hit and the loadings that applied (and the numbers those give), which a book repeats
endlessly: their texts are made once per combination and kept in the plan, and each
worksheet gets its own copy with the values its lookups read.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .model import Rating
from .plan import MEMO_SIZE, Priced
from .premium import Trace
from .tables import BandTable, Hit

#: a worksheet's rating steps without the values each lookup read, and where those go:
#: (step index, the names the table is keyed on)
Template = tuple[tuple[dict[str, Any], ...], tuple[tuple[int, tuple[str, ...]], ...]]


def worksheet(priced: Priced) -> dict[str, Any]:
    edition, env, trace = priced.edition, priced.env, priced.trace
    sheet: dict[str, Any] = {
        "edition": edition.id,
        "content_hash": edition.content_hash,
        "priced_at": priced.priced_at.isoformat(),
        "inputs": edition.inputs.to_json(priced.risk),
        "derived": {d.spec.name: d.spec.to_json(env[d.spec.name]) for d in edition.derived},
        "steps": [],
    }
    if trace is None:
        sheet["refusals"] = [{"code": r.code, "message": r.message} for r in priced.refusals]
        return sheet
    sheet["steps"] = _steps(priced, trace)
    assert priced.cover_starts is not None and priced.cover_ends is not None
    sheet["coverage"] = {
        "starts": priced.cover_starts.isoformat(),
        "ends": priced.cover_ends.isoformat(),
    }
    if priced.refusals:
        sheet["refusals"] = [{"code": r.code, "message": r.message} for r in priced.refusals]
    return sheet


def _steps(priced: Priced, trace: Trace) -> list[dict[str, Any]]:
    plan, env = priced.edition.plan, priced.env
    key = (*priced.hits, *trace.applies)
    template = plan.sheets.get(key)
    if template is None:
        template = _template(priced.edition.rating, trace, priced.hits)
        if len(plan.sheets) >= MEMO_SIZE:
            plan.sheets.clear()
        plan.sheets[key] = template
    fixed, lookups = template
    steps = [dict(step) for step in fixed]
    for index, names in lookups:
        steps[index]["lookup"] = {k: _json(env[k]) for k in names}
    return steps


def _template(rating: Rating, trace: Trace, hits: tuple[Hit, ...]) -> Template:
    base = str(rating.base)
    steps: list[dict[str, Any]] = [{"step": "base", "value": base, "running": base}]
    lookups = []
    for factor, hit, running in zip(rating.factors, hits, trace.factors, strict=True):
        table = factor.table
        keys = (table.key,) if isinstance(table, BandTable) else table.keys
        lookups.append((len(steps), keys))
        steps.append(
            {
                "step": "factor",
                "name": factor.name,
                "lookup": None,  # this worksheet's own values
                "factor": str(hit.value),
                "source": hit.source,
                "running": running,
            }
        )
    for loading, running, applied in zip(
        rating.loadings, trace.loadings, trace.applies, strict=True
    ):
        entry: dict[str, Any] = {"step": "loading", "name": loading.name, "applied": applied}
        if loading.rate is not None:
            entry["rate"] = str(loading.rate)
        else:
            entry["amount"] = str(loading.amount)
        entry["running"] = running
        steps.append(entry)
    for name, bound, limit in (
        ("minimum", trace.minimum, rating.minimum),
        ("maximum", trace.maximum, rating.maximum),
    ):
        if bound is not None:
            applied, running = bound
            steps.append(
                {"step": name, "value": str(limit), "applied": applied, "running": running}
            )
    steps.append(
        {
            "step": "rounding",
            "mode": rating.rounding_mode,
            "to": str(rating.rounding_step),
            "running": trace.rounded,
        }
    )
    steps.extend(trace.tail)
    return tuple(steps), tuple(lookups)


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
