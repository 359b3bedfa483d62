"""The rating engine: prices one risk on one edition and explains every step.

An edition is compiled once into a pricing plan (pricing/plan.py); the premium's
arithmetic is pricing/premium.py; this module is their public face, and decides
refunds. Arithmetic runs in a fixed decimal context so a premium replays to the cent
whatever the caller's context is.
"""

from __future__ import annotations

import decimal
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from .errors import EvaluationError
from .model import Edition, EndorsementRule
from .plan import COVER_TOO_LONG, check_cover, cover_too_long, plan_of
from .plan import build_env as _plan_env
from .premium import CONTEXT as _CONTEXT
from .premium import Breakdown, check_breakdown, itemise, premium_from, quantize
from .priced import Priced, Refusal

__all__ = [
    "COVER_TOO_LONG",
    "Breakdown",
    "Priced",
    "Refusal",
    "build_env",
    "check_breakdown",
    "check_cover",
    "cover_too_long",
    "itemise",
    "premium_from",
    "price",
    "refund_for",
]

_US = timedelta(microseconds=1)


def price(edition: Edition, risk: dict[str, Any], now: datetime) -> Priced:
    """Price an already validated risk (see Edition.inputs.parse) at time `now`."""
    with decimal.localcontext(_CONTEXT):
        return plan_of(edition).price(risk, now)


def build_env(edition: Edition, risk: dict[str, Any], now: datetime) -> dict[str, Any]:
    """What an edition's expressions see for a risk at `now`: `now`, the inputs (money as
    its amount) and the derived values."""
    return _plan_env(plan_of(edition), risk, now)


def endorsement_refusals(
    edition: Edition,
    rules: tuple[EndorsementRule, ...],
    risk: dict[str, Any],
    coverage_start: datetime,
    coverage_end: datetime,
    issued_at: datetime,
    now: datetime,
) -> list[EndorsementRule]:
    """The product's endorsement rules that refuse a change, read on one side of it (the
    policy as it stands, or as it would become) at `now`."""
    with decimal.localcontext(_CONTEXT):
        scope = {
            **build_env(edition, risk, now),
            "coverage_start": coverage_start,
            "coverage_end": coverage_end,
            "issued_at": issued_at,
        }
        missing = [r.code for r in rules if edition.id not in r.when]
        if missing:  # never read as "nothing refuses": the rule is unknown for this edition
            raise EvaluationError(
                f"{edition.ref}: endorsement rules {', '.join(missing)} were not compiled for it"
            )
        return [r for r in rules if r.when[edition.id](scope)]


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
            return min(quantize(amount, edition.currency), total), i
    raise EvaluationError(f"{edition.ref}: no cancellation rule applies")  # loader forbids it
