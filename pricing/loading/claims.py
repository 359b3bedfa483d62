"""Claim rules (per trigger type, the first whose `when` holds decides: a payout, or a
refund) and the thresholds that send a claim to people."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import typecheck
from ..model import (
    ClaimReview,
    ClaimRule,
)
from ..source import Path_
from ..typecheck import BOOL, NUMBER, T_DATETIME, T_MONEY, T_STRING, Type
from .reader import MISSING, Reader
from .triggers import TriggerTypes


def load_claims(
    r: Reader, known: Mapping[str, Type], tz: Any, triggers: TriggerTypes
) -> tuple[ClaimRule, ...]:
    """Claim rules: for one trigger type, the first rule (in file order) whose `when` holds
    decides the payout, so tiers are written from the highest down."""
    rules: list[ClaimRule] = []
    seen: set[str] = set()
    for i, _ in enumerate(r.items(("claims",))):
        path: Path_ = ("claims", i)
        c = r.mapping(
            path,
            {
                "code",
                "trigger",
                "match",
                "fields",
                "when",
                "payout",
                "refund",
                "review_when",
                "description",
            },
            {"code", "trigger", "match", "when"},
        )
        if c is None:
            continue
        if ("payout" in c) == ("refund" in c):
            r.fail(path, "give exactly one of payout (what the rule pays) or refund: full")
            continue
        refund = c.get("refund")
        if refund is not None and refund != "full":
            r.fail((*path, "refund"), "must be full (the policy is void, its premium refunded)")
            continue
        code = r.text((*path, "code"))
        if code in seen:
            r.fail((*path, "code"), f"duplicate claim rule code {code!r}")
        seen.add(code)
        trigger_name = r.text((*path, "trigger"))
        trigger = triggers.get(trigger_name)
        if trigger is None:
            r.fail((*path, "trigger"), triggers.unknown(trigger_name))
            continue
        trigger_fields = set(trigger.fields.by_name)
        fields_ = c.get("fields")
        if fields_ is not None and (
            not isinstance(fields_, list) or not set(map(str, fields_)) <= trigger_fields
        ):
            r.fail(
                (*path, "fields"),
                f"must list fields of {trigger_name}: {', '.join(sorted(trigger_fields))}",
            )
        raw_match = c.get("match")
        ways = raw_match if isinstance(raw_match, list) and raw_match else []
        if ways and not all(isinstance(w, list) for w in ways):
            ways = [ways]  # one way: a plain list of names
        matchable = {*known, "external_ref"}
        match: list[tuple[str, ...]] = []
        for way in ways:
            names = tuple(map(str, way))
            if not names or not all(n in matchable and n in trigger_fields for n in names):
                r.fail(
                    (*path, "match"),
                    f"must list inputs (or external_ref) that {trigger_name} also carries "
                    f"({', '.join(sorted(trigger_fields))}), or a list of such lists",
                )
                break
            match.append(names)
        if not match:
            if not ways:
                r.fail((*path, "match"), "must list the inputs the trigger is matched on")
            continue
        # Trigger fields shadow inputs of the same name: the fact is what the rule compares.
        scope = {
            **known,
            "external_ref": T_STRING,
            "premium": T_MONEY,
            "coverage_start": T_DATETIME,
            "coverage_end": T_DATETIME,
            "issued_at": T_DATETIME,
            "observed_at": T_DATETIME,
            "event_time": T_DATETIME,
            **typecheck.scope_of(trigger.fields.specs),
        }
        when = r.expression((*path, "when"), scope, tz, BOOL)
        payout = None
        if refund is None:
            payout = r.expression((*path, "payout"), scope, tz, NUMBER, money=True)
        review = r.expression((*path, "review_when"), scope, tz, BOOL, required=False)
        if when and (payout or refund):
            rules.append(
                ClaimRule(
                    code,
                    trigger_name,
                    tuple(match),
                    when,
                    payout,
                    review,
                    r.text((*path, "description"), required=False),
                    refund,
                )
            )
    return tuple(rules)


def load_claim_review(r: Reader) -> ClaimReview:
    path: Path_ = ("claim_review",)
    if r.at(path) in (None, MISSING):
        return ClaimReview()
    keys = {"auto_approve_up_to", "soon_after_issue_hours", "repeat_claims"}
    if r.mapping(path, keys, set()) is None:
        return ClaimReview()
    limit = r.decimal((*path, "auto_approve_up_to"), required=False)
    soon = r.decimal((*path, "soon_after_issue_hours"), required=False)
    repeat_max, repeat_days = 5, 30
    if (
        r.at((*path, "repeat_claims")) not in (None, MISSING)
        and r.mapping((*path, "repeat_claims"), {"max", "days"}, {"max", "days"}) is not None
    ):
        repeat_max = r.integer((*path, "repeat_claims", "max"))
        repeat_days = r.integer((*path, "repeat_claims", "days"))
        if repeat_max < 1 or not 1 <= repeat_days <= 3660:
            r.fail((*path, "repeat_claims"), "max must be at least 1, days 1 to 3660")
    return ClaimReview(limit, soon, repeat_max, repeat_days)
