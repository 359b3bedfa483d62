"""A priced risk, and its worksheet: every step from the inputs to the premium, as JSON.

The worksheet is built only when read (a quote or a policy shows it; a batch replay
does not). Its rating steps depend on nothing but the table rows hit and the loadings
that applied (and the numbers those give), which a book repeats endlessly: their texts
are made once per combination and kept with the plan (`sheets`), and each worksheet gets
its own copy with the values its lookups read.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from .model import Edition, Rating
from .premium import CONTEXT, MEMO_SIZE, Breakdown, Trace
from .tables import BandTable, Hit


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str


@dataclass(eq=False)
class Priced:
    edition: Edition
    risk: dict[str, Any]  # typed values
    env: dict[str, Any]  # inputs, derived values and `now`, as the expressions saw them
    refusals: tuple[Refusal, ...]
    breakdown: Breakdown | None  # None when refused
    #: the cover; also set when refused only for being too long (the worksheet shows it)
    cover_starts: datetime | None
    cover_ends: datetime | None
    priced_at: datetime
    trace: Trace | None
    hits: tuple[Hit, ...]
    #: the plan's worksheet templates (rating steps by table hits and loadings)
    sheets: dict[tuple[Any, ...], Any]

    @property
    def eligible(self) -> bool:
        return not self.refusals

    @property
    def coverage_start(self) -> datetime | None:
        return self.cover_starts if self.breakdown is not None else None

    @property
    def coverage_end(self) -> datetime | None:
        return self.cover_ends if self.breakdown is not None else None

    @cached_property
    def worksheet(self) -> dict[str, Any]:
        """Every step from the inputs to the premium, as JSON (built on first use, in the
        engine's decimal context like the rest of the pricing)."""
        with decimal.localcontext(CONTEXT):
            return worksheet(self)


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
    sheets, env = priced.sheets, priced.env
    key = (*priced.hits, *trace.applies)
    template = sheets.get(key)
    if template is None:
        template = _template(priced.edition.rating, trace, priced.hits)
        if len(sheets) >= MEMO_SIZE:
            sheets.clear()
        sheets[key] = template
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
