"""An edition's eligibility rules, its cover and benefits, the longest cover, and its
refund rules."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from .. import typecheck
from ..expressions import Expression
from ..model import (
    Benefit,
    EligibilityRule,
    RefundRule,
)
from ..source import Path_
from ..typecheck import BOOL, DATETIME, T_DATETIME, Type
from .reader import MISSING, Reader, to_decimal


def read_eligibility(r: Reader, known: Mapping[str, Type], tz: Any) -> list[EligibilityRule]:
    """Eligibility rules: every rule that refuses gives its reason code."""
    rules: list[EligibilityRule] = []
    codes: set[str] = set()
    for i, _ in enumerate(r.items(("eligibility",))):
        path = ("eligibility", i)
        if (
            r.mapping(path, {"code", "refuse_when", "message"}, {"code", "refuse_when", "message"})
            is None
        ):
            continue
        rule_code = r.text((*path, "code"))
        if rule_code in codes:
            r.fail((*path, "code"), f"duplicate reason code {rule_code!r}")
        codes.add(rule_code)
        expr = r.expression((*path, "refuse_when"), known, tz, BOOL)
        if rule_code and expr:
            rules.append(EligibilityRule(rule_code, r.text((*path, "message")), expr))

    return rules


def read_coverage(
    r: Reader, known: Mapping[str, Type], tz: Any
) -> tuple[Expression | None, Expression | None, timedelta | None, list[Benefit]]:
    """The cover (start and end expressions, the longest cover) and its benefits."""
    r.mapping(("coverage",), {"starts", "ends", "longest", "benefits", "tiers"}, {"starts", "ends"})
    starts = r.expression(("coverage", "starts"), known, tz, DATETIME)
    ends = r.expression(("coverage", "ends"), known, tz, DATETIME)
    longest = longest_cover(r, tz)
    benefits: list[Benefit] = []
    for i, _ in enumerate(r.items(("coverage", "benefits"))):
        path = ("coverage", "benefits", i)
        if (
            r.mapping(path, {"code", "description", "amount", "limit"}, {"code", "description"})
            is None
        ):
            continue
        amount = r.decimal((*path, "amount"), required=False)
        limit = r.decimal((*path, "limit"), required=False)
        if (amount is None) == (limit is None):
            r.fail(path, "give exactly one of amount (fixed benefit) or limit (actual cost up to)")
        benefits.append(
            Benefit(r.text((*path, "code")), r.text((*path, "description")), amount, limit)
        )

    return starts, ends, longest, benefits


def check_tiers(r: Reader, benefits: list[Benefit]) -> None:
    """`coverage.tiers: [delay_120, delay_240]`: benefits from the mildest loss to the worst;
    a worse tier never pays less (amount, or limit for actual-cost benefits)."""
    tiers = r.at(("coverage", "tiers"))
    if tiers is MISSING:
        return
    if not isinstance(tiers, list) or len(tiers) < 2:
        r.fail(("coverage", "tiers"), "must list two or more benefit codes, mildest first")
        return
    by_code = {b.code: b for b in benefits}
    previous: tuple[str, Decimal] | None = None
    if len(set(map(str, tiers))) != len(tiers):
        r.fail(("coverage", "tiers"), "lists a benefit twice")
        return
    for i, code in enumerate(tiers):
        if not isinstance(code, str):
            r.fail(("coverage", "tiers", i), "must be a benefit code")
            return
        benefit = by_code.get(code)
        if benefit is None:
            r.fail(("coverage", "tiers", i), f"unknown benefit {code!r}")
            return
        pays = benefit.amount if benefit.amount is not None else benefit.limit
        if pays is None:
            return
        if previous is not None and pays < previous[1]:
            r.fail(
                ("coverage", "tiers", i),
                f"{code} pays {pays}, less than the milder tier {previous[0]} ({previous[1]})",
            )
        previous = (code, pays)


def longest_cover(r: Reader, tz: Any) -> timedelta | None:
    """coverage.longest: a constant duration such as days(40)."""
    path: Path_ = ("coverage", "longest")
    expr = r.expression(path, {}, tz, typecheck.DURATION, required=False)
    if expr is None:
        return None
    value = expr({})
    if not isinstance(value, timedelta) or value <= timedelta(0):
        r.fail(path, "must be a positive duration such as days(40)")
        return None
    return value


def read_cancellation(r: Reader, known: Mapping[str, Type], tz: Any) -> list[RefundRule]:
    """Refund rules: ordered, the first that applies decides; the last has no condition."""
    refund_rules: list[RefundRule] = []
    cancel_known = {
        **known,
        "coverage_start": T_DATETIME,
        "coverage_end": T_DATETIME,
        "issued_at": T_DATETIME,
    }
    items = r.items(("cancellation",))
    if not items:
        r.fail(("cancellation",), "declare at least one refund rule")
    for i, _ in enumerate(items):
        path = ("cancellation", i)
        if r.mapping(path, {"when", "refund", "description"}, {"refund"}) is None:
            continue
        when = r.expression((*path, "when"), cancel_known, tz, BOOL, required=False)
        raw_refund = r.at((*path, "refund"))
        ratio = None
        if raw_refund in ("full", "none", "pro_rata"):
            kind = raw_refund
        else:
            kind, ratio = "ratio", to_decimal(raw_refund)
            if ratio is None or not 0 <= ratio <= 1:
                r.fail((*path, "refund"), "must be full, none, pro_rata or a ratio between 0 and 1")
        if i == len(items) - 1 and when is not None:
            r.fail(
                path, "the last refund rule must have no `when`, so that one rule always applies"
            )
        refund_rules.append(
            RefundRule(when, kind, ratio, r.text((*path, "description"), required=False))
        )

    return refund_rules
