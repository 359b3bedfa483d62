"""An edition's inputs and the values derived from them, each with its type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import typecheck
from ..inputs import INPUT_TYPES, InputSpec
from ..model import (
    Derived,
)
from ..source import Path_
from ..tables import key_text
from ..typecheck import T_DATETIME, Type
from .lookups import read_lookup
from .reader import MISSING, Reader

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


def input_spec(
    r: Reader, path: Path_, name: str, currency: str | None, derived: bool = False
) -> InputSpec | None:
    allowed = _SPEC_KEYS | ({"expr", "lookup", "table"} if derived else set())
    spec = r.mapping(path, allowed, {"type"})
    if spec is None:
        if r.at(path) is MISSING:
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


def read_inputs(
    r: Reader, top: dict[str, Any], currency: str, tz: Any, folder: Path, display_dir: str
) -> tuple[dict[str, InputSpec], dict[str, Type], list[Derived], dict[str, InputSpec]]:
    """The inputs, and the derived values computed from them in order (by an expression,
    or looked up in a table in `folder`): (the inputs, the type of every name an
    expression may read, the derived values, inputs and derived)."""
    specs: dict[str, InputSpec] = {}
    inputs_map = top.get("inputs")
    if not isinstance(inputs_map, dict) or not inputs_map:
        r.fail(("inputs",), "must map each input name to its declaration")
        inputs_map = {}
    for name in inputs_map:
        spec = input_spec(r, ("inputs", name), name, currency)
        if spec:
            specs[name] = spec
    known: dict[str, Type] = typecheck.scope_of(specs.values(), now=T_DATETIME)
    derived: list[Derived] = []
    derived_raw = top.get("derived") or {}
    if not isinstance(derived_raw, dict):
        r.fail(("derived",), "must be a mapping of name -> {expr or lookup and table, type}")
        derived_raw = {}
    all_specs = dict(specs)
    for name in derived_raw:
        path: Path_ = ("derived", name)
        if name in known:
            r.fail(path, f"{name!r} is already an input")
            continue
        spec = input_spec(r, path, name, currency, derived=True)
        if spec is None:
            known[name] = typecheck.T_ANY  # refused already; no second error where it is used
            continue
        kind = typecheck.kind_of_input_type(spec.type)
        declared = r.at(path)
        expr, table = None, None
        if "lookup" not in declared and "table" not in declared:
            expr = r.expression((*path, "expr"), known, tz, kind)
        elif "expr" in declared:
            r.fail(path, "give either expr (computed) or lookup and table (looked up), not both")
        elif "lookup" not in declared or "table" not in declared:
            r.fail(path, "a looked-up value needs lookup (its keys) and table (a CSV file)")
        else:
            table = read_lookup(r, path, spec, all_specs, known, folder, display_dir)
        known[name] = Type(kind, values=spec.enum)
        # declared, if refused: what reads it is checked against its declaration, with
        # no second error
        all_specs[name] = spec
        if expr or table:
            derived.append(Derived(spec, expr, table))

    return specs, known, derived, all_specs
