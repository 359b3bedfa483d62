"""A product's tests.yaml: cases with expected premiums or refusals, with what a reported
fact does to the policy (paid, not covered, reviewed and why), and with the refund of a
cancellation. Each case is checked when the product loads; pricing/testcases.py runs them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import InputErrors, ProductFileError
from ..inputs import parse_datetime
from ..model import Edition, TestCase, TriggerCase
from ..source import Path_, parse_yaml, read_text
from .edition import plain_json
from .reader import Collect, Reader
from .triggers import TriggerTypes

_PREMIUM = ("total", "net", "tax", "commission", "fees")
#: what a reported fact may do to a policy (pricing/claims.Decision.result, and two more:
#: the fact is not about this policy, or reports a loss later than it was observed)
CLAIM_RESULTS = (
    "pays",
    "not_covered",
    "outside_cover",
    "refund",
    "cannot_decide",
    "not_matched",
    "premature",
)
_CASE_KEYS = {"name", "edition", "quoted_at", "risk", "expect", "trigger", "cancel_at"}


def load_tests(
    folder: Path,
    root: Path,
    editions: dict[str, Edition],
    triggers: TriggerTypes,
    out: Collect,
) -> tuple[TestCase, ...]:
    path = folder / "tests.yaml"
    display = path.relative_to(root).as_posix()
    if not path.exists():
        out.add(
            ProductFileError(
                display, None, "", "every product needs test cases with expected premiums"
            )
        )
        return ()
    try:
        doc = parse_yaml(read_text(path, display), display)
    except ProductFileError as exc:
        out.add(exc)
        return ()
    r = Reader(doc, out)
    if not isinstance(doc.data, list) or not doc.data:
        r.fail((), "must be a non-empty list of test cases")
        return ()
    cases: list[TestCase] = []
    for i, _ in enumerate(doc.data):
        case = _case(r, (i,), folder, editions, triggers)
        if case is not None:
            cases.append(case)
    return tuple(cases)


def _case(
    r: Reader, p: Path_, folder: Path, editions: dict[str, Edition], triggers: TriggerTypes
) -> TestCase | None:
    case = r.mapping(p, _CASE_KEYS | {"external_ref"}, {"name", "quoted_at", "risk", "expect"})
    if case is None:
        return None
    edition = case.get("edition")
    if edition is not None and str(edition) not in editions:
        if (folder / "editions" / str(edition)).is_dir():
            return None  # the edition is refused itself: its own errors say why
        r.fail((*p, "edition"), f"unknown edition {edition!r}")
    quoted_at = _when(r, (*p, "quoted_at"))
    if quoted_at is None:
        return None
    if "trigger" in case and "cancel_at" in case:
        r.fail(p, "give a trigger (a reported fact) or cancel_at (a cancellation), not both")
        return None
    trigger = _trigger(r, (*p, "trigger"), triggers) if "trigger" in case else None
    cancel_at = _when(r, (*p, "cancel_at")) if "cancel_at" in case else None
    if "trigger" in case:
        expect = _claim_expectation(r, (*p, "expect"))
    elif "cancel_at" in case:
        expect = _refund_expectation(r, (*p, "expect"))
    else:
        expect = _premium_expectation(r, (*p, "expect"))
    risk = case["risk"]
    if not isinstance(risk, dict):
        r.fail((*p, "risk"), "must be a mapping")
        return None
    if expect is None or ("trigger" in case and trigger is None):
        return None
    if "cancel_at" in case and cancel_at is None:
        return None
    return TestCase(
        str(case["name"]),
        r.doc.line(p),
        None if edition is None else str(edition),
        quoted_at,
        plain_json(risk),
        expect,
        trigger,
        cancel_at,
        str(case.get("external_ref", "test-case")),
    )


def _when(r: Reader, path: Path_) -> datetime | None:
    try:
        return parse_datetime(r.at(path))
    except ValueError as exc:
        r.fail(path, str(exc))
        return None


def _trigger(r: Reader, path: Path_, triggers: TriggerTypes) -> TriggerCase | None:
    fact = r.mapping(path, {"type", "data", "observed_at"}, {"type", "data", "observed_at"})
    if fact is None:
        return None
    name = r.text((*path, "type"))
    kind = triggers.get(name)
    if kind is None:
        r.fail((*path, "type"), triggers.unknown(name))
        return None
    observed_at = _when(r, (*path, "observed_at"))
    try:
        values = kind.parse(plain_json(fact["data"]), "data")
    except InputErrors as exc:
        for error in exc.errors:
            r.fail((*path, *_steps(error.param)), f"{error.message} ({name})")
        return None
    return None if observed_at is None else TriggerCase(kind, values, observed_at)


def _steps(param: str) -> Path_:
    """data.delivered_at -> ("data", "delivered_at"): the line of the field in the case."""
    return tuple(part for part in param.split(".") if part)


def _premium_expectation(r: Reader, path: Path_) -> dict[str, Any] | None:
    expect = r.mapping(path, {*_PREMIUM, "refused"})
    if expect is None:
        return None
    if ("refused" in expect) == ("total" in expect):
        r.fail(path, "give either total (with optional parts) or refused: [reason codes]")
        return None
    if "refused" in expect:
        codes = expect["refused"]
        if not isinstance(codes, list) or not codes:
            r.fail((*path, "refused"), "must list the expected reason codes")
            return None
        return {"refused": [str(c) for c in codes]}
    parsed: dict[str, Any] = {}
    for key in _PREMIUM:
        if key in expect:
            value = r.decimal((*path, key))
            if value is not None:
                parsed[key] = value
    parts = [k for k in ("net", "tax", "commission", "fees") if k in parsed]
    if len(parts) == 4 and "total" in parsed and sum(parsed[k] for k in parts) != parsed["total"]:
        r.fail(
            path,
            f"parts do not sum: net + tax + commission + fees = "
            f"{sum(parsed[k] for k in parts)}, total is {parsed['total']}",
        )
    return parsed


def _claim_expectation(r: Reader, path: Path_) -> dict[str, Any] | None:
    expect = r.mapping(path, {"claim", "amount", "rule", "review"}, {"claim"})
    if expect is None:
        return None
    result = expect.get("claim")
    if result not in CLAIM_RESULTS:
        r.fail((*path, "claim"), f"must be one of: {', '.join(CLAIM_RESULTS)}")
        return None
    parsed: dict[str, Any] = {"claim": result}
    if ("amount" in expect) != (result == "pays"):
        r.fail(path, "give the amount paid when, and only when, the claim pays")
        return None
    if "amount" in expect:
        parsed["amount"] = r.decimal((*path, "amount"))
    if "rule" in expect:
        parsed["rule"] = r.text((*path, "rule"))
    if "review" in expect:
        review = expect["review"]
        if result != "pays" or not isinstance(review, list):
            r.fail((*path, "review"), "must list the signal codes of a claim that pays")
            return None
        parsed["review"] = sorted(map(str, review))
    return parsed


def _refund_expectation(r: Reader, path: Path_) -> dict[str, Any] | None:
    expect = r.mapping(path, {"refund"}, {"refund"})
    if expect is None:
        return None
    refund = r.decimal((*path, "refund"))
    return None if refund is None else {"refund": refund}
