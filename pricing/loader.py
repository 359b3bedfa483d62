"""Load and validate product folders.

    products/<code>/product.yaml                     name, policyholder, duplicate cover
    products/<code>/editions/<edition>/edition.yaml  inputs, eligibility, rating, cover, refunds, claims
    products/<code>/editions/<edition>/*.csv         rating tables
    products/<code>/tests.yaml                       test cases with expected premiums

A product is loaded whole or not at all: every error found is collected (file, line,
path, reason) and the product is refused with all of them.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from itertools import product as cartesian
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import engine, typecheck
from .errors import (
    BreakdownError,
    EvaluationError,
    InputError,
    InputErrors,
    ProductFileError,
    ProductInvalid,
)
from .expressions import Expression, ExpressionSyntaxError, compile_expression
from .inputs import INPUT_TYPES, InputSet, InputSpec, parse_datetime
from .model import (
    ROUNDING_MODES,
    Benefit,
    ClaimReview,
    ClaimRule,
    Derived,
    DuplicateCover,
    Edition,
    EligibilityRule,
    Factor,
    Fee,
    Loading,
    Product,
    Rating,
    RefundRule,
    TestCase,
)
from .money import MINOR_UNITS
from .source import Document, Path_, format_path, parse_csv, parse_yaml, read_text
from .tables import BandTable, ExactTable, Hit, Table, key_text
from .triggers import TRIGGER_TYPES
from .typecheck import BOOL, DATETIME, NUMBER, T_DATETIME, T_NUMBER, T_STRING, Type

_MISSING = object()


class _Collect:
    """Collects errors instead of stopping at the first one."""

    def __init__(self) -> None:
        self.errors: list[ProductFileError] = []

    def add(self, error: ProductFileError) -> None:
        self.errors.append(error)


class _Reader:
    """Typed access to one YAML document, recording errors with file and line."""

    def __init__(self, doc: Document, out: _Collect) -> None:
        self.doc = doc
        self.out = out

    def fail(self, path: Path_, message: str) -> None:
        self.out.add(self.doc.error(path, message))

    def at(self, path: Path_) -> Any:
        node: Any = self.doc.data
        for part in path:
            if isinstance(part, int):
                node = node[part]
            else:
                node = node.get(part, _MISSING) if isinstance(node, dict) else _MISSING
            if node is _MISSING:
                return _MISSING
        return node

    def mapping(
        self, path: Path_, allowed: set[str], required: frozenset[str] | set[str] = frozenset()
    ) -> dict[str, Any] | None:
        value = self.at(path)
        if value is _MISSING:
            return None
        if not isinstance(value, dict):
            self.fail(path, "must be a mapping")
            return None
        for key in value:
            if key not in allowed:
                self.fail(
                    (*path, key),
                    f"unknown key {key!r}; expected one of: {', '.join(sorted(allowed))}",
                )
        for key in required:
            if key not in value:
                self.fail(path, f"missing required key {key!r}")
        return value

    def text(self, path: Path_, required: bool = True, default: str = "") -> str:
        value = self.at(path)
        if value is _MISSING or value is None:
            if required:
                self.fail(path, "is required")
            return default
        if not isinstance(value, str):
            self.fail(path, f"must be text, got {_kind(value)}")
            return default
        return value

    def decimal(
        self, path: Path_, required: bool = True, positive: bool = False, signed: bool = False
    ) -> Decimal | None:
        value = self.at(path)
        if value is _MISSING or value is None:
            if required:
                self.fail(path, "is required")
            return None
        result = _to_decimal(value)
        if result is None:
            self.fail(path, f'must be a decimal number such as "1.25", got {value!r}')
            return None
        if (result < 0 and not signed) or (positive and result <= 0):
            self.fail(path, "must be positive" if positive else "must not be negative")
            return None
        return result

    def integer(self, path: Path_, required: bool = True, default: int = 0) -> int:
        value = self.at(path)
        if value is _MISSING or value is None:
            if required:
                self.fail(path, "is required")
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"must be a whole number, got {value!r}")
            return default
        return value

    def items(self, path: Path_) -> list[Any]:
        value = self.at(path)
        if value is _MISSING or value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, "must be a list")
            return []
        return value

    def expression(
        self,
        path: Path_,
        scope: Mapping[str, Type],
        tz: Any,
        want: str,
        required: bool = True,
    ) -> Expression | None:
        """The expression at `path`, compiled over the names of `scope` and type-checked:
        it must give a `want` (typecheck.BOOL, DATETIME, ...)."""
        value = self.at(path)
        if value is _MISSING or value is None:
            if required:
                self.fail(path, "is required")
            return None
        try:
            expr = compile_expression(value, scope.keys(), tz)
        except ExpressionSyntaxError as exc:
            self.fail(path, str(exc))
            return None
        errors = typecheck.check(expr, scope, want)
        for error in errors:
            self.fail(path, error)
        return None if errors else expr


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", bool: "true/false", int: "a number"}.get(
        type(value), repr(value)
    )


def _to_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal | int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            return None
        return result if result.is_finite() else None
    return None


# ---------------------------------------------------------------------------------------
# inputs


_SPEC_KEYS = {
    "type",
    "required",
    "description",
    "enum",
    "pattern",
    "minimum",
    "maximum",
    "min_length",
    "max_length",
    "default",
    "example",
}


def _input_spec(
    r: _Reader, path: Path_, name: str, currency: str, derived: bool = False
) -> InputSpec | None:
    allowed = _SPEC_KEYS | ({"expr"} if derived else set())
    spec = r.mapping(path, allowed, {"type"})
    if spec is None:
        if r.at(path) is _MISSING:
            r.fail(path, "is required")
        return None
    kind = spec.get("type")
    if kind not in INPUT_TYPES:
        r.fail((*path, "type"), f"unknown type {kind!r}; one of: {', '.join(INPUT_TYPES)}")
        return None
    if not name.isidentifier() or name in ("now", "true", "false"):
        r.fail(path, f"{name!r} cannot be an input name (letters, digits, _; not a reserved word)")
    enum = spec.get("enum")
    if enum is not None:
        if not isinstance(enum, list) or not enum:
            r.fail((*path, "enum"), "must be a non-empty list")
            enum = None
        elif len(set(map(key_text, enum))) != len(enum):
            r.fail((*path, "enum"), "has duplicate values")
        elif kind == "integer" and not all(
            isinstance(v, int) and not isinstance(v, bool) for v in enum
        ):
            r.fail((*path, "enum"), "values must be whole numbers for an integer input")
        elif kind == "string":
            enum = [str(v) for v in enum]
    pattern = spec.get("pattern")
    if pattern is not None:
        import re

        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            r.fail((*path, "pattern"), f"invalid regular expression: {exc}")
            pattern = None
    minimum = r.decimal((*path, "minimum"), required=False, signed=True)
    maximum = r.decimal((*path, "maximum"), required=False, signed=True)
    if minimum is not None and maximum is not None and minimum > maximum:
        r.fail((*path, "minimum"), "is greater than maximum")
    required = spec.get("required", True)
    if not isinstance(required, bool):
        r.fail((*path, "required"), "must be true or false")
        required = True
    return InputSpec(
        name=name,
        type=kind,
        required=required and not derived,
        description=str(spec.get("description", "")),
        enum=tuple(enum) if enum else None,
        pattern=pattern,
        minimum=minimum,
        maximum=maximum,
        min_length=spec.get("min_length"),
        max_length=spec.get("max_length"),
        currency=currency if kind == "money" else None,
    )


# ---------------------------------------------------------------------------------------
# tables


def _exact_table(
    csv_file: Path,
    display: str,
    keys: tuple[str, ...],
    specs: dict[str, InputSpec],
    default: Decimal | None,
    out: _Collect,
) -> ExactTable | None:
    try:
        table = parse_csv(read_text(csv_file, display), display)
    except ProductFileError as exc:
        out.add(exc)
        return None
    expected = [*keys, "factor"]
    if table.header != expected:
        out.add(
            table.error(
                table.header_line,
                f"header must be: {','.join(expected)} (got {','.join(table.header)})",
            )
        )
        return None
    rows: dict[tuple[str, ...], Hit] = {}
    first_line: dict[tuple[str, ...], int] = {}
    mentioned: set[tuple[str, ...]] = set()  # rows with errors still count as present
    for row in table.rows:
        key = tuple(row.values[k] for k in keys)
        mentioned.add(key)
        bad = False
        for k in keys:
            problem = _key_problem(specs[k], row.values[k])
            if problem:
                out.add(
                    table.error(
                        row.line, f"unknown table key {row.values[k]!r} for {k}: {problem}", k
                    )
                )
                bad = True
        factor = _to_decimal(row.values["factor"])
        if factor is None or factor <= 0:
            out.add(
                table.error(
                    row.line,
                    f"factor must be a positive decimal, got {row.values['factor']!r}",
                    "factor",
                )
            )
            bad = True
        if key in first_line:
            out.add(table.error(row.line, f"duplicate key {key} (first at line {first_line[key]})"))
            bad = True
        if not bad:
            assert factor is not None
            rows[key] = Hit(factor, f"{display}:{row.line}")
            first_line[key] = row.line
    # Completeness: every combination of declared values needs a row, or a default.
    domains = [_domain(specs[k]) for k in keys]
    if default is None and all(d is not None for d in domains):
        missing = [combo for combo in cartesian(*domains) if combo not in mentioned]  # type: ignore[arg-type]
        if missing:
            shown = ", ".join("/".join(m) for m in missing[:8]) + (
                " ..." if len(missing) > 8 else ""
            )
            out.add(
                table.error(
                    None,
                    f"no row and no default for {len(missing)} value(s) of {','.join(keys)}: {shown}",
                )
            )
    return ExactTable(display, keys, rows, default)


def _check_tiers(r: _Reader, benefits: list[Benefit]) -> None:
    """`coverage.tiers: [delay_120, delay_240]`: benefits from the mildest loss to the worst;
    a worse tier never pays less (amount, or limit for actual-cost benefits)."""
    tiers = r.at(("coverage", "tiers"))
    if tiers is _MISSING:
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


def _check_monotonic(
    r: _Reader, path: Path_, name: str, table: Table, specs: dict[str, InputSpec]
) -> None:
    """`monotonic: increasing|decreasing`: along the bands (or the key's values, in their
    order) the factor never goes the other way, e.g. a later departure hour never costs less."""
    direction = r.at(path)
    if direction not in ("increasing", "decreasing"):
        r.fail(path, "must be increasing or decreasing")
        return
    ordered: list[Hit]
    if isinstance(table, BandTable):
        ordered = list(table.hits)
        if table.default is not None:
            # The default serves gaps and open ends: it must fit the order there too.
            default = Hit(table.default, "default")
            inf = Decimal("Infinity")
            ordered = [] if table.lowers[0] == -inf else [default]
            for i, hit in enumerate(table.hits):
                ordered.append(hit)
                last = i == len(table.hits) - 1
                if (last and table.uppers[i] != inf) or (
                    not last and table.lowers[i + 1] > table.uppers[i]
                ):
                    ordered.append(default)
    else:
        spec = specs[table.keys[0]] if len(table.keys) == 1 else None
        domain = _domain(spec) if spec is not None else None
        if domain is None:
            r.fail(path, "needs bands, or one integer, enum or boolean key whose order is known")
            return
        if domain == ["true", "false"]:
            domain = ["false", "true"]  # increasing means true costs at least as much
        ordered = []
        for v in domain:
            found = table.rows.get((v,))
            if found is None and table.default is not None:
                found = Hit(table.default, "default")
            if found is not None:
                ordered.append(found)
    for prev, nxt in pairwise(ordered):
        wrong = nxt.value < prev.value if direction == "increasing" else nxt.value > prev.value
        if wrong:
            r.fail(
                path,
                f"factor {name} is declared {direction}, but {nxt.source} has {nxt.value} "
                f"after {prev.value} at {prev.source}",
            )


def _domain(spec: InputSpec) -> list[str] | None:
    if spec.enum is not None:
        return [key_text(v) for v in spec.enum]
    if spec.type == "boolean":
        return ["true", "false"]
    bounded = spec.minimum is not None and spec.maximum is not None
    if spec.type == "integer" and bounded and spec.maximum - spec.minimum <= 1000:  # type: ignore[operator]
        return [str(i) for i in range(int(spec.minimum), int(spec.maximum) + 1)]  # type: ignore[arg-type]
    return None


def _key_problem(spec: InputSpec, cell: str) -> str | None:
    domain = _domain(spec)
    if domain is not None:
        return None if cell in domain else f"expected one of {', '.join(domain[:24])}"
    if spec.type == "integer":
        try:
            int(cell)
        except ValueError:
            return "expected a whole number"
        return None
    if spec.type == "string":
        if spec.pattern:
            import re

            if not re.fullmatch(spec.pattern, cell):
                return f"does not match the input's pattern {spec.pattern}"
        return None
    return f"{spec.type} inputs cannot be exact table keys (use bands)"


def _band_table(
    csv_file: Path, display: str, key: str, spec: InputSpec, default: Decimal | None, out: _Collect
) -> BandTable | None:
    try:
        table = parse_csv(read_text(csv_file, display), display)
    except ProductFileError as exc:
        out.add(exc)
        return None
    if table.header != ["from", "to", "factor"]:
        out.add(
            table.error(
                table.header_line, f"header must be: from,to,factor (got {','.join(table.header)})"
            )
        )
        return None
    if spec.type not in ("integer", "decimal", "money"):
        out.add(table.error(None, f"bands need a numeric input; {key} is {spec.type}"))
        return None
    bands: list[tuple[Decimal, Decimal, Hit, int]] = []
    inf = Decimal("Infinity")
    for row in table.rows:
        lo = _to_decimal(row.values["from"]) if row.values["from"] else -inf
        hi = _to_decimal(row.values["to"]) if row.values["to"] else inf
        factor = _to_decimal(row.values["factor"])
        if lo is None or hi is None:
            out.add(table.error(row.line, "from/to must be decimal numbers or empty (unbounded)"))
            continue
        if not lo < hi:
            out.add(table.error(row.line, f"band is empty: from {lo} is not below to {hi}"))
            continue
        if factor is None or factor <= 0:
            out.add(
                table.error(
                    row.line,
                    f"factor must be a positive decimal, got {row.values['factor']!r}",
                    "factor",
                )
            )
            continue
        bands.append((lo, hi, Hit(factor, f"{display}:{row.line}"), row.line))
    bands.sort(key=lambda b: b[0])
    for prev, nxt in pairwise(bands):
        if nxt[0] < prev[1]:
            out.add(
                table.error(
                    nxt[3],
                    f"band [{nxt[0]}, {nxt[1]}) overlaps band [{prev[0]}, {prev[1]}) at line {prev[3]}",
                )
            )
        elif nxt[0] > prev[1] and default is None:
            out.add(
                table.error(
                    nxt[3],
                    f"gap between {prev[1]} (line {prev[3]}) and {nxt[0]}; add a band or a default",
                )
            )
    if not bands:
        out.add(table.error(None, "no bands"))
        return None
    if default is None:
        low_needed = spec.minimum if spec.minimum is not None else -inf
        high_needed = spec.maximum if spec.maximum is not None else inf
        if bands[0][0] > low_needed:
            out.add(
                table.error(
                    bands[0][3],
                    f"values of {key} from {low_needed} to {bands[0][0]} fall in no band",
                )
            )
        if bands[-1][1] <= high_needed and bands[-1][1] != inf:
            out.add(
                table.error(bands[-1][3], f"values of {key} from {bands[-1][1]} up fall in no band")
            )
    return BandTable(
        display,
        key,
        tuple(b[0] for b in bands),
        tuple(b[1] for b in bands),
        tuple(b[2] for b in bands),
        default,
    )


# ---------------------------------------------------------------------------------------
# editions


def _content_hash(folder: Path) -> tuple[str, dict[str, str]]:
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


def _load_edition(code: str, folder: Path, root: Path, out: _Collect) -> Edition | None:
    display_dir = folder.relative_to(root).as_posix()
    display = f"{display_dir}/edition.yaml"
    try:
        doc = parse_yaml(read_text(folder / "edition.yaml", display), display)
    except ProductFileError as exc:
        out.add(exc)
        return None
    r = _Reader(doc, out)
    before = len(out.errors)
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
    tz_name = r.text(("timezone",), required=False, default="UTC")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        r.fail(("timezone",), f"unknown time zone {tz_name!r}")
        tz = ZoneInfo("UTC")
    valid_minutes = r.integer(("quote_valid_minutes",), required=False, default=30)
    if not 1 <= valid_minutes <= 1440:
        r.fail(("quote_valid_minutes",), "must be between 1 and 1440")

    # Inputs and derived values
    specs: dict[str, InputSpec] = {}
    inputs_map = top.get("inputs")
    if not isinstance(inputs_map, dict) or not inputs_map:
        r.fail(("inputs",), "must map each input name to its declaration")
        inputs_map = {}
    for name in inputs_map:
        spec = _input_spec(r, ("inputs", name), name, currency)
        if spec:
            specs[name] = spec
    input_set = InputSet(tuple(specs.values()))
    known: dict[str, Type] = typecheck.scope_of(specs.values(), now=T_DATETIME)
    derived: list[Derived] = []
    derived_raw = top.get("derived") or {}
    if not isinstance(derived_raw, dict):
        r.fail(("derived",), "must be a mapping of name -> {expr, type}")
        derived_raw = {}
    all_specs = dict(specs)
    for name in derived_raw:
        path: Path_ = ("derived", name)
        if name in known:
            r.fail(path, f"{name!r} is already an input")
            continue
        spec = _input_spec(r, path, name, currency, derived=True)
        if spec is None:
            known[name] = typecheck.T_ANY  # refused already; no second error where it is used
            continue
        expr = r.expression((*path, "expr"), known, tz, typecheck.kind_of_input_type(spec.type))
        known[name] = Type(typecheck.kind_of_input_type(spec.type), values=spec.enum)
        if expr:
            derived.append(Derived(spec, expr))
            all_specs[name] = spec

    # Eligibility
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

    # Coverage and benefits
    r.mapping(("coverage",), {"starts", "ends", "longest", "benefits", "tiers"}, {"starts", "ends"})
    starts = r.expression(("coverage", "starts"), known, tz, DATETIME)
    ends = r.expression(("coverage", "ends"), known, tz, DATETIME)
    longest = _longest_cover(r, tz)
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

    _check_tiers(r, benefits)
    rating = _rating(r, folder, display_dir, all_specs, known, tz, currency, out)

    # Cancellation: ordered rules, the first that applies decides; the last has no condition.
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
            kind, ratio = "ratio", _to_decimal(raw_refund)
            if ratio is None or not 0 <= ratio <= 1:
                r.fail((*path, "refund"), "must be full, none, pro_rata or a ratio between 0 and 1")
        if i == len(items) - 1 and when is not None:
            r.fail(
                path, "the last refund rule must have no `when`, so that one rule always applies"
            )
        refund_rules.append(
            RefundRule(when, kind, ratio, r.text((*path, "description"), required=False))
        )

    claims = _claims(r, known, tz)
    claim_review = _claim_review(r)
    open_claim = r.text(("cancel_while_claim_open",), required=False, default="refuse")
    if open_claim not in ("refuse", "reject_claim"):
        r.fail(("cancel_while_claim_open",), "must be refuse or reject_claim")

    example = top.get("example_risk")
    if not isinstance(example, dict):
        r.fail(("example_risk",), "must be a mapping of input -> value that quotes successfully")
        example = {}
    example_expressions = _example_expressions(r, example, specs, tz)

    if (
        len(out.errors) > before
        or effective_from is None
        or rating is None
        or starts is None
        or ends is None
    ):
        return None
    content_hash, files = _content_hash(folder)
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
        example_risk=_plain_json(example),
        longest_cover=longest,
        cancel_while_claim_open=open_claim,
        example_expressions=example_expressions,
        files=files,
        document=doc.data,
    )
    _check_example(edition, r, out)
    return None if len(out.errors) > before else edition


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _longest_cover(r: _Reader, tz: Any) -> timedelta | None:
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


def _example_expressions(
    r: _Reader, example: dict[str, Any], specs: dict[str, InputSpec], tz: Any
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


def _plain_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_json(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    return value


def _check_example(edition: Edition, r: _Reader, out: _Collect) -> None:
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


def _rating(
    r: _Reader,
    folder: Path,
    display_dir: str,
    specs: dict[str, InputSpec],
    known: Mapping[str, Type],
    tz: Any,
    currency: str,
    out: _Collect,
) -> Rating | None:
    before = len(out.errors)
    allowed = {
        "base",
        "factors",
        "loadings",
        "minimum",
        "maximum",
        "rounding",
        "tax",
        "commission",
        "fees",
    }
    if r.mapping(("rating",), allowed, {"base", "rounding", "tax", "commission"}) is None:
        return None
    base = r.decimal(("rating", "base"), positive=True)
    factors: list[Factor] = []
    names: set[str] = set()
    for i, _ in enumerate(r.items(("rating", "factors"))):
        path: Path_ = ("rating", "factors", i)
        f = r.mapping(
            path, {"name", "lookup", "table", "bands", "default", "monotonic"}, {"name", "lookup"}
        )
        if f is None:
            continue
        name = r.text((*path, "name"))
        if name in names:
            r.fail((*path, "name"), f"duplicate factor name {name!r}")
        names.add(name)
        lookup = f.get("lookup")
        keys = tuple(lookup) if isinstance(lookup, list) else (lookup,)
        unknown = [k for k in keys if k not in specs]
        if unknown or not keys:
            r.fail(
                (*path, "lookup"),
                f"unknown input(s) {', '.join(map(str, unknown))}; declare them under inputs or derived",
            )
            continue
        default = r.decimal((*path, "default"), required=False, positive=True)
        if ("table" in f) == ("bands" in f):
            r.fail(path, "give exactly one of table (exact keys) or bands (from,to ranges)")
            continue
        file_name = f.get("table") or f.get("bands")
        if not isinstance(file_name, str) or "/" in file_name or file_name.startswith("."):
            r.fail(
                (*path, "table" if "table" in f else "bands"),
                "must name a CSV file beside edition.yaml",
            )
            continue
        csv_file, display = folder / file_name, f"{display_dir}/{file_name}"
        table: ExactTable | BandTable | None
        if "table" in f:
            table = _exact_table(csv_file, display, keys, specs, default, out)
        else:
            if len(keys) != 1:
                r.fail((*path, "lookup"), "bands look up exactly one numeric input")
                continue
            table = _band_table(csv_file, display, keys[0], specs[keys[0]], default, out)
        if table is not None:
            factors.append(Factor(name, table))
            if "monotonic" in f:
                _check_monotonic(r, (*path, "monotonic"), name, table, specs)

    loadings: list[Loading] = []
    for i, _ in enumerate(r.items(("rating", "loadings"))):
        path = ("rating", "loadings", i)
        if r.mapping(path, {"name", "rate", "amount", "when"}, {"name"}) is None:
            continue
        rate = r.decimal((*path, "rate"), required=False)
        amount = r.decimal((*path, "amount"), required=False)
        if (rate is None) == (amount is None):
            r.fail(path, "give exactly one of rate (multiplies by 1 + rate) or amount (adds)")
        when = r.expression((*path, "when"), known, tz, BOOL, required=False)
        loadings.append(Loading(r.text((*path, "name")), rate, amount, when))

    minimum = r.decimal(("rating", "minimum"), required=False, positive=True)
    maximum = r.decimal(("rating", "maximum"), required=False, positive=True)
    if minimum is not None and maximum is not None and minimum > maximum:
        r.fail(("rating", "minimum"), f"minimum {minimum} is above maximum {maximum}")

    r.mapping(("rating", "rounding"), {"step", "mode"}, {"step", "mode"})
    step = r.decimal(("rating", "rounding", "step"), positive=True)
    mode = r.text(("rating", "rounding", "mode"))
    if mode and mode not in ROUNDING_MODES:
        r.fail(
            ("rating", "rounding", "mode"),
            f"unknown rounding mode {mode!r}; one of {', '.join(ROUNDING_MODES)}",
        )
    quantum = Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2))
    if step is not None and step % quantum != 0:
        r.fail(("rating", "rounding", "step"), f"must be a multiple of {quantum} {currency}")

    r.mapping(("rating", "tax"), {"name", "rate", "basis"}, {"name", "rate", "basis"})
    tax_rate = r.decimal(("rating", "tax", "rate"))
    basis = r.text(("rating", "tax", "basis"))
    if basis and basis not in ("inclusive", "added"):
        r.fail(
            ("rating", "tax", "basis"),
            "must be inclusive (tax inside the premium) or added (on top)",
        )
    r.mapping(("rating", "commission"), {"rate"}, {"rate"})
    commission = r.decimal(("rating", "commission", "rate"))
    if commission is not None and commission >= 1:
        r.fail(("rating", "commission", "rate"), "must be below 1")
    fees: list[Fee] = []
    for i, _ in enumerate(r.items(("rating", "fees"))):
        path = ("rating", "fees", i)
        if r.mapping(path, {"name", "amount"}, {"name", "amount"}) is None:
            continue
        amount = r.decimal((*path, "amount"))
        if amount is not None:
            if amount % quantum != 0:
                r.fail((*path, "amount"), f"must be a multiple of {quantum} {currency}")
            fees.append(Fee(r.text((*path, "name")), amount))
    if len(out.errors) > before:
        return None
    assert base is not None and step is not None and tax_rate is not None and commission is not None
    rating = Rating(
        base,
        tuple(factors),
        tuple(loadings),
        minimum,
        maximum,
        step,
        mode,
        r.text(("rating", "tax", "name")),
        tax_rate,
        basis,
        commission,
        tuple(fees),
    )
    _check_parts(rating, r, currency)
    return rating


def _check_parts(rating: Rating, r: _Reader, currency: str) -> None:
    """The smallest premium must still leave a net premium: tax, commission and fees must fit in it."""
    lowest = rating.minimum if rating.minimum is not None else rating.rounding_step
    try:
        engine.itemise(rating, currency, lowest)
    except BreakdownError as exc:
        r.fail(("rating",), f"parts do not sum at the lowest premium {lowest} {currency}: {exc}")


def _claims(r: _Reader, known: Mapping[str, Type], tz: Any) -> tuple[ClaimRule, ...]:
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
        trigger = TRIGGER_TYPES.get(trigger_name)
        if trigger is None:
            r.fail(
                (*path, "trigger"),
                f"unknown trigger type {trigger_name!r} (known: {', '.join(TRIGGER_TYPES)})",
            )
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
            "premium": T_NUMBER,
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
            payout = r.expression((*path, "payout"), scope, tz, NUMBER)
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


def _claim_review(r: _Reader) -> ClaimReview:
    path: Path_ = ("claim_review",)
    if r.at(path) in (None, _MISSING):
        return ClaimReview()
    keys = {"auto_approve_up_to", "soon_after_issue_hours", "repeat_claims"}
    if r.mapping(path, keys, set()) is None:
        return ClaimReview()
    limit = r.decimal((*path, "auto_approve_up_to"), required=False)
    soon = r.decimal((*path, "soon_after_issue_hours"), required=False)
    repeat_max, repeat_days = 5, 30
    if (
        r.at((*path, "repeat_claims")) not in (None, _MISSING)
        and r.mapping((*path, "repeat_claims"), {"max", "days"}, {"max", "days"}) is not None
    ):
        repeat_max = r.integer((*path, "repeat_claims", "max"))
        repeat_days = r.integer((*path, "repeat_claims", "days"))
        if repeat_max < 1 or not 1 <= repeat_days <= 3660:
            r.fail((*path, "repeat_claims"), "max must be at least 1, days 1 to 3660")
    return ClaimReview(limit, soon, repeat_max, repeat_days)


# ---------------------------------------------------------------------------------------
# products


def _load_tests(
    folder: Path, root: Path, product: str, editions: dict[str, Edition], out: _Collect
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
    r = _Reader(doc, out)
    if not isinstance(doc.data, list) or not doc.data:
        r.fail((), "must be a non-empty list of test cases")
        return ()
    cases: list[TestCase] = []
    for i, _ in enumerate(doc.data):
        p: Path_ = (i,)
        case = r.mapping(
            p,
            {"name", "edition", "quoted_at", "risk", "expect"},
            {"name", "quoted_at", "risk", "expect"},
        )
        if case is None:
            continue
        edition = case.get("edition")
        if edition is not None and str(edition) not in editions:
            if (folder / "editions" / str(edition)).is_dir():
                continue  # the edition is refused itself: its own errors say why
            r.fail((*p, "edition"), f"unknown edition {edition!r}")
        try:
            quoted_at = parse_datetime(case.get("quoted_at"))
        except ValueError as exc:
            r.fail((*p, "quoted_at"), str(exc))
            continue
        expect = r.mapping((*p, "expect"), {"total", "net", "tax", "commission", "fees", "refused"})
        if expect is None:
            continue
        if ("refused" in expect) == ("total" in expect):
            r.fail(
                (*p, "expect"), "give either total (with optional parts) or refused: [reason codes]"
            )
            continue
        parsed: dict[str, Any] = {}
        if "refused" in expect:
            codes = expect["refused"]
            if not isinstance(codes, list) or not codes:
                r.fail((*p, "expect", "refused"), "must list the expected reason codes")
                continue
            parsed["refused"] = [str(c) for c in codes]
        else:
            for key in ("total", "net", "tax", "commission", "fees"):
                if key in expect:
                    value = r.decimal((*p, "expect", key))
                    if value is not None:
                        parsed[key] = value
            parts = [k for k in ("net", "tax", "commission", "fees") if k in parsed]
            if (
                len(parts) == 4
                and "total" in parsed
                and sum(parsed[k] for k in parts) != parsed["total"]
            ):
                r.fail(
                    (*p, "expect"),
                    f"parts do not sum: net + tax + commission + fees = "
                    f"{sum(parsed[k] for k in parts)}, total is {parsed['total']}",
                )
        risk = case["risk"]
        if not isinstance(risk, dict):
            r.fail((*p, "risk"), "must be a mapping")
            continue
        cases.append(
            TestCase(
                str(case["name"]),
                doc.line(p),
                None if edition is None else str(edition),
                quoted_at,
                _plain_json(risk),
                parsed,
            )
        )
    return tuple(cases)


def load_recorded_edition(code: str, edition_id: str, files: dict[str, str]) -> Edition:
    """An edition from its recorded files (relative path -> text, as hashed), e.g. for
    policies pinned to an edition whose folder was changed or removed since."""
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
        out = _Collect()
        edition = _load_edition(code, folder, root, out)
        if out.errors or edition is None:
            raise ProductInvalid(code, out.errors)
        return edition


def load_product(folder: Path, root: Path) -> Product:
    """Load one product folder; raises ProductInvalid listing every error."""
    out = _Collect()
    code = folder.name
    display = f"{code}/product.yaml"
    meta: dict[str, Any] = {}
    duplicate: DuplicateCover | None = None
    try:
        doc = parse_yaml(read_text(folder / "product.yaml", display), display)
        r = _Reader(doc, out)
        meta = (
            r.mapping(
                (),
                {"code", "name", "name_zh", "description", "policyholder", "duplicate_cover"},
                {"code", "name", "policyholder"},
            )
            or {}
        )
        if meta.get("code") != code:
            r.fail(("code",), f"must equal the folder name {code!r}")
        if meta.get("policyholder") not in ("required", "optional", "none"):
            r.fail(("policyholder",), "must be required, optional or none")
        dup = r.mapping(("duplicate_cover",), {"subject", "per_insured"}, {"subject"})
        if dup is not None:
            subject = dup.get("subject")
            if not isinstance(subject, list) or not subject:
                r.fail(
                    ("duplicate_cover", "subject"),
                    "must list the inputs (or external_ref) that identify the insured thing",
                )
            else:
                duplicate = DuplicateCover(
                    tuple(map(str, subject)), bool(dup.get("per_insured", False))
                )
                if duplicate.per_insured and meta.get("policyholder") != "required":
                    r.fail(("duplicate_cover", "per_insured"), "needs policyholder: required")
    except ProductFileError as exc:
        out.add(exc)
    editions_dir = folder / "editions"
    editions: list[Edition] = []
    if not editions_dir.is_dir():
        out.add(ProductFileError(f"{code}/editions", None, "", "no editions folder"))
    else:
        for ed_folder in sorted(p for p in editions_dir.iterdir() if p.is_dir()):
            ed = _load_edition(code, ed_folder, root, out)
            if ed is not None:
                editions.append(ed)
    editions.sort(key=lambda e: e.effective_from)
    for a, b in pairwise(editions):
        if a.effective_from == b.effective_from:
            out.add(
                ProductFileError(
                    f"{code}/editions/{b.id}/edition.yaml",
                    None,
                    "effective_from",
                    f"same effective_from as edition {a.id}",
                )
            )
    if duplicate is not None:
        for ed in editions:
            names = {s.name for s in ed.inputs.specs} | {"external_ref"}
            for s in duplicate.subject:
                if s not in names:
                    out.add(
                        ProductFileError(
                            display,
                            None,
                            "duplicate_cover.subject",
                            f"{s!r} is not an input of edition {ed.id}",
                        )
                    )
    if not editions and not out.errors:
        out.add(ProductFileError(f"{code}/editions", None, "", "no editions"))
    tests = _load_tests(folder, root, code, {e.id: e for e in editions}, out)
    if out.errors:
        raise ProductInvalid(code, out.errors)
    return Product(
        code=code,
        name=str(meta.get("name", code)),
        name_zh=str(meta.get("name_zh", "")),
        description=str(meta.get("description", "")).strip(),
        policyholder=str(meta["policyholder"]),
        duplicate_cover=duplicate,
        editions=tuple(editions),
        tests=tests,
        tests_file=f"{code}/tests.yaml",
    )


@dataclass
class Catalog:
    """Every product found under a folder; the ones refused, with their errors."""

    products: dict[str, Product] = field(default_factory=dict)
    refused: dict[str, ProductInvalid] = field(default_factory=dict)


def product_folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "product.yaml").exists())


def load_catalog(root: Path, on_progress: Callable[[str], None] | None = None) -> Catalog:
    catalog = Catalog()
    for folder in product_folders(root):
        if on_progress:
            on_progress(folder.name)
        try:
            catalog.products[folder.name] = load_product(folder, root)
        except ProductInvalid as exc:
            catalog.refused[folder.name] = exc
    return catalog


__all__ = ["Catalog", "format_path", "load_catalog", "load_product", "product_folders"]
