"""Derived values looked up in a table beside edition.yaml, e.g. a route's band by its
origin and destination:

    derived:
      route_band:
        lookup: [origin, destination]   # inputs, or derived values declared before it
        table: routes.csv               # header origin,destination,value
        default: regional               # for a key the table does not list
        type: string
        enum: [domestic_trunk, regional]

Every cell and the default are read as the declared type and checked against its
constraints when the product loads, so a looked-up value is as sure as an input."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from itertools import product as cartesian
from pathlib import Path
from typing import Any

from ..errors import InputError, ProductFileError
from ..inputs import InputSpec
from ..money import Money
from ..source import Path_, parse_csv, read_text
from ..tables import ValueTable
from ..typecheck import Type
from .reader import MISSING, Reader
from .tables import key_domain, key_problem

#: the types a table can be keyed on: exact texts (dates and numbers with a fraction
#: have several spellings of one value)
_KEY_TYPES = ("string", "integer", "boolean")
_WHOLE = re.compile(r"-?\d{1,18}")


def cell_value(spec: InputSpec, text: str) -> Any:
    """A table cell (text) read as a value of `spec`, money as its amount; raises
    InputError when it is not one."""
    raw: Any = text
    if spec.type == "integer":
        if not _WHOLE.fullmatch(text):
            raise InputError(spec.name, "must be a whole number")
        raw = int(text)
    elif spec.type == "boolean":
        if text not in ("true", "false"):
            raise InputError(spec.name, "must be true or false")
        raw = text == "true"
    elif spec.type == "money":
        raw = {"amount": text, "currency": spec.currency}
    value = spec.parse(raw, spec.name)
    return value.amount if isinstance(value, Money) else value


def read_lookup(
    r: Reader,
    path: Path_,
    spec: InputSpec,
    earlier: Mapping[str, InputSpec],
    known: Mapping[str, Type],
    folder: Path,
    display_dir: str,
) -> ValueTable | None:
    """The table of the derived value at `path` (its `lookup`, `table` and `default`);
    None, with the errors recorded, when anything is wrong."""
    before = len(r.out.errors)
    keys = _keys(r, (*path, "lookup"), earlier)
    file_name = r.at((*path, "table"))
    if not isinstance(file_name, str) or "/" in file_name or file_name.startswith("."):
        r.fail((*path, "table"), "must name a CSV file beside edition.yaml")
    default = None
    if r.at((*path, "default")) not in (MISSING, None):
        default = _default(r, (*path, "default"), spec)
    elif keys is not None:
        for k in keys:
            if known[k].optional:
                r.fail(path, f"needs a default: {k} is optional, and a risk without it has no row")
            elif key_domain(earlier[k]) is None:
                r.fail(
                    path,
                    f"needs a default: {k} can take values no table lists "
                    "(or declare its values: an enum, or a minimum and a maximum)",
                )
    if keys is None or len(r.out.errors) > before:
        return None
    assert isinstance(file_name, str)
    display = f"{display_dir}/{file_name}"
    try:
        table = parse_csv(read_text(folder / file_name, display), display)
    except ProductFileError as exc:
        r.out.add(exc)
        return None
    missing = [k for k in keys if k not in table.header]
    if missing:
        r.fail(
            (*path, "lookup"),
            f"{file_name} has no column {', '.join(missing)} (its header: {','.join(table.header)})",
        )
        return None
    expected = [*keys, "value"]
    if sorted(table.header) != sorted(expected):
        r.out.add(
            table.error(
                table.header_line,
                f"header must be: {','.join(expected)} (got {','.join(table.header)})",
            )
        )
        return None
    rows: dict[tuple[str, ...], Any] = {}
    first_line: dict[tuple[str, ...], int] = {}
    for row in table.rows:
        key: list[str] = []
        for k in keys:
            cell = row.values[k]
            problem = key_problem(earlier[k], cell)
            if problem:
                r.out.add(
                    table.error(row.line, f"unknown table key {cell!r} for {k}: {problem}", k)
                )
            else:  # a whole number by its value, as the risk's key is written
                key.append(str(int(cell)) if earlier[k].type == "integer" else cell)
        cell = row.values["value"]
        try:
            value = cell_value(spec, cell)
        except InputError as exc:
            r.out.add(
                table.error(
                    row.line, f"{cell!r} is not a value of {spec.name}: {exc.message}", "value"
                )
            )
            value = None
        if len(key) < len(keys):
            continue
        found = tuple(key)
        if found in first_line:
            r.out.add(
                table.error(row.line, f"duplicate key {found} (first at line {first_line[found]})")
            )
            continue
        first_line[found] = row.line
        if value is not None:
            rows[found] = value
    if default is None:
        domains = [key_domain(earlier[k]) or [] for k in keys]
        absent = [combo for combo in cartesian(*domains) if combo not in first_line]
        if absent:
            shown = ", ".join("/".join(m) for m in absent[:8]) + (" ..." if len(absent) > 8 else "")
            r.out.add(
                table.error(
                    None,
                    f"no row and no default for {len(absent)} value(s) of {','.join(keys)}: {shown}",
                )
            )
    if len(r.out.errors) > before:
        return None
    return ValueTable(display, keys, rows, default)


def _keys(r: Reader, path: Path_, earlier: Mapping[str, InputSpec]) -> tuple[str, ...] | None:
    raw = r.at(path)
    names = raw if isinstance(raw, list) else [raw]
    if not names or not all(isinstance(n, str) for n in names):
        r.fail(path, "must name an input or an earlier derived value, or a list of them")
        return None
    unknown = [n for n in names if n not in earlier]
    if unknown:
        r.fail(
            path,
            f"unknown input(s) {', '.join(unknown)}: a lookup reads inputs, and derived values "
            "declared before it",
        )
        return None
    if len(set(names)) != len(names):
        r.fail(path, "names a key twice")
        return None
    wrong = [n for n in names if earlier[n].type not in _KEY_TYPES]
    for n in wrong:
        r.fail(
            path,
            f"{n} is a {earlier[n].type}: a table is keyed on text, whole numbers or true/false",
        )
    return None if wrong else tuple(names)


def _default(r: Reader, path: Path_, spec: InputSpec) -> Any:
    raw = r.at(path)
    if isinstance(raw, bool):
        text = "true" if raw else "false"
    elif isinstance(raw, str | int | Decimal):
        text = str(raw)
    else:
        r.fail(path, f"must be a {spec.type} value")
        return None
    try:
        return cell_value(spec, text)
    except InputError as exc:
        r.fail(path, f"{text!r} is not a value of {spec.name}: {exc.message}")
        return None
