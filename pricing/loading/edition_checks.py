"""Checks across the sections of an edition, once each is read: money written with more
decimals than the currency has, payouts above the benefit they pay, and warnings about
claim rules that can never decide and benefits that no rule pays."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from ..expression_checks import constant_truth, fits_currency, implies, upper_bound
from ..model import Benefit, ClaimRule
from ..money import MINOR_UNITS
from ..source import Path_
from .reader import MISSING, Reader, to_decimal


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _money_paths(r: Reader) -> list[Path_]:
    """Where an edition writes an amount of its currency outside expressions. (Example
    values are checked as the example risk is read.)"""
    paths: list[Path_] = [
        ("rating", "base"),
        ("rating", "minimum"),
        ("rating", "maximum"),
        ("claim_review", "auto_approve_up_to"),
    ]
    for section, keys in (
        (("coverage", "benefits"), ("amount", "limit")),
        (("rating", "loadings"), ("amount",)),
        (("rating", "fees"), ("amount",)),
    ):
        for i, _ in enumerate(_list(r.at(section))):
            paths += [(*section, i, key) for key in keys]
    inputs = r.at(("inputs",))
    for name, spec in inputs.items() if isinstance(inputs, dict) else ():
        if isinstance(spec, dict) and spec.get("type") == "money":
            paths += [("inputs", name, "minimum"), ("inputs", name, "maximum")]
    return paths


def check_money_fields(r: Reader, currency: str) -> None:
    """An amount the currency cannot hold (200.005 CNY) would be paid or compared as
    another amount than written: refused. (Expressions are checked as they are read.)"""
    for path in _money_paths(r):
        value = r.at(path)
        amount = None if value is MISSING or isinstance(value, dict | list) else to_decimal(value)
        if amount is not None and not fits_currency(amount, currency):
            r.fail(
                path,
                f"money amount {value} has more decimals than {currency} has "
                f"({MINOR_UNITS.get(currency, 2)})",
            )


def rules_in_file(r: Reader, rules: Sequence[ClaimRule]) -> list[tuple[Path_, ClaimRule]]:
    """Each loaded rule with its path: the loader keeps file order and skips only rules
    it refused, so the n-th loaded rule is the next item of the file with its code."""
    out: list[tuple[Path_, ClaimRule]] = []
    pending = list(rules)
    for i, item in enumerate(_list(r.at(("claims",)))):
        if pending and isinstance(item, dict) and item.get("code") == pending[0].code:
            out.append((("claims", i), pending.pop(0)))
    return out


def _pays(benefit: Benefit) -> Decimal | None:
    return benefit.amount if benefit.amount is not None else benefit.limit


def check_payouts(r: Reader, rules: list[tuple[Path_, ClaimRule]], benefits: list[Benefit]) -> None:
    """A rule must not pay more than the benefit it pays: the benefit with its code, else
    (a rule of its own) the largest benefit, which caps every claim when it is paid."""
    by_code = {b.code: pays for b in benefits if (pays := _pays(b)) is not None}
    largest = max(by_code.values(), default=None)
    for path, rule in rules:
        if rule.payout is None:
            continue
        own = by_code.get(rule.code)
        cap = own if own is not None else largest
        bound = upper_bound(rule.payout)
        # A payout whose shape bounds nothing (shipping_cost * 2, a derived amount) is
        # left to the settlement, which pays at most the largest benefit
        # (pricing/claims.decide) and shows what it capped.
        if cap is None or bound is None or bound <= cap:
            continue
        what = f"benefit {rule.code}" if own is not None else "the largest benefit"
        says = (
            f"pays {bound}"
            if not rule.payout.names
            else f"{rule.payout.source!r} can pay up to {bound}"
        )
        r.about((*path, "payout"), rule.payout, f"{says}, more than {what} ({cap})")


def warn_unreachable(r: Reader, rules: list[tuple[Path_, ClaimRule]]) -> None:
    """Per trigger the first rule whose `when` holds decides: a rule whose `when` never
    holds, or only when an earlier rule's does, never decides anything."""
    earlier: dict[str, list[ClaimRule]] = {}
    for path, rule in rules:
        before = earlier.setdefault(rule.trigger, [])
        where = (*path, "when")
        always = next((e for e in before if constant_truth(e.when) is True), None)
        wider = next((e for e in before if implies(rule.when, e.when)), None)
        if constant_truth(rule.when) is False:
            r.about(
                where,
                rule.when,
                f"rule {rule.code} never applies: its `when` is always false",
                warn=True,
            )
            continue
        if always is not None:
            r.about(
                where,
                rule.when,
                f"rule {rule.code} is never reached: rule {always.code} before it, for the "
                f"same trigger {rule.trigger}, always applies",
                warn=True,
            )
        elif wider is not None:
            r.about(
                where,
                rule.when,
                f"rule {rule.code} is never reached: whenever its `when` holds, so does the "
                f"`when` of rule {wider.code} before it for the same trigger {rule.trigger}, "
                "and the first rule that holds decides",
                warn=True,
            )
        before.append(rule)


def warn_unpaid_benefits(r: Reader, rules: Sequence[ClaimRule]) -> None:
    """A benefit is paid by the claim rule with its code; without one, no trigger pays it
    (only a claim filed by hand can): a claim without a trigger."""
    benefits = _list(r.at(("coverage", "benefits")))
    if not benefits:
        return
    if not rules:
        r.warn(
            ("coverage", "benefits"),
            "the edition has benefits but no claim rules: no trigger ever pays them",
        )
        return
    codes = {rule.code for rule in rules}
    for i, item in enumerate(benefits):
        code = item.get("code") if isinstance(item, dict) else None
        if isinstance(code, str) and code not in codes:
            r.warn(
                ("coverage", "benefits", i, "code"),
                f"no claim rule pays benefit {code} (no rule has its code): a claim without "
                "a trigger, paid only if someone files it",
            )


def check_claims(r: Reader, rules: Sequence[ClaimRule], benefits: list[Benefit]) -> None:
    """The claim rules against each other and against the benefits."""
    located = rules_in_file(r, rules)
    check_payouts(r, located, benefits)
    warn_unreachable(r, located)
    warn_unpaid_benefits(r, rules)
