"""One edition folder: edition.yaml and its tables, loaded whole or refused with every
error; its content hash; its example risk (fixed or relative to the time of quoting)."""

from __future__ import annotations

import hashlib
import re
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .. import engine, typecheck
from ..errors import (
    BreakdownError,
    EvaluationError,
    InputError,
    InputErrors,
    ProductFileError,
    ProductInvalid,
)
from ..expressions import Expression
from ..inputs import InputSet, InputSpec, parse_datetime
from ..model import (
    Edition,
)
from ..money import MINOR_UNITS
from ..source import parse_yaml, read_text
from ..typecheck import T_DATETIME
from .claims import load_claim_review, load_claims
from .coverage import check_tiers, read_cancellation, read_coverage, read_eligibility
from .edition_checks import check_claims, check_money_fields
from .inputs import read_inputs
from .rating import load_rating
from .reader import Collect, Reader
from .triggers import TriggerTypes


def hash_folder(folder: Path) -> tuple[str, dict[str, str]]:
    digest = hashlib.sha256()
    files: dict[str, str] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        data = path.read_bytes()
        digest.update(rel.encode() + b"\0" + len(data).to_bytes(8, "big") + data)
        files[rel] = data.decode("utf-8", errors="replace")
    return "sha256:" + digest.hexdigest(), files


_EDITION_KEYS = {
    "cancel_while_claim_open",
    "effective_from",
    "currency",
    "timezone",
    "quote_valid_minutes",
    "inputs",
    "derived",
    "eligibility",
    "coverage",
    "rating",
    "cancellation",
    "claims",
    "claim_review",
    "example_risk",
    "notes",
}


def load_edition(
    code: str, folder: Path, root: Path, out: Collect, triggers: TriggerTypes
) -> Edition | None:
    display_dir = folder.relative_to(root).as_posix()
    display = f"{display_dir}/edition.yaml"
    try:
        doc = parse_yaml(read_text(folder / "edition.yaml", display), display)
    except ProductFileError as exc:
        out.add(exc)
        return None
    r = Reader(doc, out)
    before, warnings_before = len(out.errors), len(out.warnings)
    top = r.mapping(
        (),
        _EDITION_KEYS,
        {
            "effective_from",
            "currency",
            "inputs",
            "rating",
            "coverage",
            "cancellation",
            "example_risk",
        },
    )
    if top is None:
        r.fail((), "edition.yaml must be a mapping")
        return None

    effective_from = None
    raw_from = top.get("effective_from")
    try:
        effective_from = parse_datetime(raw_from)
    except ValueError as exc:
        r.fail(("effective_from",), str(exc))

    currency = r.text(("currency",))
    if currency and currency not in MINOR_UNITS:
        r.fail(("currency",), f"unsupported currency {currency!r}")
        currency = "CNY"
    r.currency = currency
    check_money_fields(r, currency)
    tz_name = r.text(("timezone",), required=False, default="UTC")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        r.fail(("timezone",), f"unknown time zone {tz_name!r}")
        tz = ZoneInfo("UTC")
    valid_minutes = r.integer(("quote_valid_minutes",), required=False, default=30)
    if not 1 <= valid_minutes <= 1440:
        r.fail(("quote_valid_minutes",), "must be between 1 and 1440")

    specs, known, derived, all_specs = read_inputs(r, top, currency, tz, folder, display_dir)
    input_set = InputSet(tuple(specs.values()))
    rules = read_eligibility(r, known, tz)
    starts, ends, longest, benefits = read_coverage(r, known, tz)
    check_tiers(r, benefits)
    rating = load_rating(r, folder, display_dir, all_specs, known, tz, currency, out)

    refund_rules = read_cancellation(r, known, tz)

    claims = load_claims(r, known, tz, triggers)
    check_claims(r, claims, benefits)
    claim_review = load_claim_review(r)
    open_claim = r.text(("cancel_while_claim_open",), required=False, default="refuse")
    if open_claim not in ("refuse", "reject_claim"):
        r.fail(("cancel_while_claim_open",), "must be refuse or reject_claim")

    example = top.get("example_risk")
    if not isinstance(example, dict):
        r.fail(("example_risk",), "must be a mapping of input -> value that quotes successfully")
        example = {}
    example_expressions = read_example_expressions(r, example, specs, tz)

    if (
        len(out.errors) > before
        or effective_from is None
        or rating is None
        or starts is None
        or ends is None
    ):
        return None
    content_hash, files = hash_folder(folder)
    edition = Edition(
        product=code,
        id=folder.name,
        effective_from=effective_from,
        content_hash=content_hash,
        currency=currency,
        timezone=tz,
        timezone_name=tz_name,
        quote_valid_minutes=valid_minutes,
        inputs=input_set,
        derived=tuple(derived),
        eligibility=tuple(rules),
        coverage_starts=starts,
        coverage_ends=ends,
        benefits=tuple(benefits),
        rating=rating,
        cancellation=tuple(refund_rules),
        claims=claims,
        claim_review=claim_review,
        example_risk=plain_json(example),
        longest_cover=longest,
        cancel_while_claim_open=open_claim,
        example_expressions=example_expressions,
        files=files,
        document=doc.data,
        warnings=tuple(out.warnings[warnings_before:]),
    )
    check_example(edition, r, out)
    return None if len(out.errors) > before else edition


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def read_example_expressions(
    r: Reader, example: dict[str, Any], specs: dict[str, InputSpec], tz: Any
) -> dict[str, Expression]:
    """Date and date-time example values written as expressions of `now` (now + days(30)),
    so that the example never falls out of a sales window by itself."""
    out: dict[str, Expression] = {}
    for name, value in example.items():
        spec = specs.get(name)
        if spec is None or spec.type not in ("date", "datetime") or not isinstance(value, str):
            continue
        if _ISO_DATE.match(value):
            continue  # a fixed date, right or wrong: the example check says which
        try:
            spec.parse(value, name)
            continue  # a fixed date
        except InputError:
            pass
        scope = {"now": T_DATETIME}
        expr = r.expression(("example_risk", name), scope, tz, typecheck.INPUT_KINDS[spec.type])
        if expr is not None:
            out[name] = expr
    return out


def plain_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_json(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    return value


def check_example(edition: Edition, r: Reader, out: Collect) -> None:
    """The example risk must validate and quote at the edition's start: it is what partners try first."""
    try:
        example = edition.example(edition.effective_from)
        risk = edition.inputs.parse(example, prefix="example_risk")
        priced = engine.price(edition, risk, edition.effective_from)
    except InputErrors as exc:
        for err in exc.errors:
            r.fail(tuple(err.param.split(".")), err.message)
        return
    except (EvaluationError, BreakdownError) as exc:
        r.fail(("example_risk",), f"pricing the example failed: {exc}")
        return
    if not priced.eligible:
        r.fail(
            ("example_risk",),
            f"the example is refused: {', '.join(x.code for x in priced.refusals)}",
        )


def load_recorded_edition(
    code: str, edition_id: str, files: dict[str, str], triggers: TriggerTypes
) -> Edition:
    """An edition from its recorded files (relative path -> text, as hashed), e.g. for
    policies pinned to an edition whose folder was changed or removed since; its claim
    rules read the trigger types in force."""
    with tempfile.TemporaryDirectory(prefix="edition-") as tmp:
        root = Path(tmp)
        folder = root / code / "editions" / edition_id
        for rel, text in files.items():
            path = (folder / rel).resolve()
            if not path.is_relative_to(folder.resolve()):
                raise ProductInvalid(
                    code,
                    [
                        ProductFileError(
                            f"{code}/editions/{edition_id}", None, "", f"bad path {rel!r}"
                        )
                    ],
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode("utf-8"))
        out = Collect()
        edition = load_edition(code, folder, root, out, triggers)
        if out.errors or edition is None:
            raise ProductInvalid(code, out.errors)
        return edition
