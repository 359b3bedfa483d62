"""The common case of reading a risk, made fast: a valid risk of plain JSON values.

Each declared input gets a reader specialised to its type and constraints, built once.
A reader raises on anything it is not sure of (any problem, any unusual form such as a
money amount given as a number); InputSet.parse then reads the risk again the careful
way, which finds every problem and names each field. So the fast readers decide nothing
on their own: they accept a subset of what the careful path accepts, with the same values
(tests/unit/test_input_reading.py holds them to that).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .input_spec import InputSpec, parse_date, parse_datetime
from .money import MINOR_UNITS, Money

Reader = Callable[[Any], Any]
_AMOUNT = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,8})?").fullmatch


class NotPlain(Exception):
    """The fast reader is not sure: read the careful way."""


def reader(spec: InputSpec) -> Reader:
    """A fast reader for one input (a date's and a date-time's careful readers are
    already direct)."""
    if spec.type == "string":
        return _string(spec)
    if spec.type == "money" and spec.currency is not None:
        return _money(spec, spec.currency)
    if spec.type == "integer":
        return _integer(spec)
    if spec.type == "boolean":

        def boolean(raw: Any) -> bool:
            if type(raw) is not bool or not _allowed(spec, raw):
                raise NotPlain
            return raw

        return boolean
    if spec.type in ("date", "datetime") and spec.enum is None:
        return parse_date if spec.type == "date" else parse_datetime
    return _careful(spec)


def generate(specs: tuple[InputSpec, ...]) -> Reader:
    """One function reading a whole risk, each input's reader written inline where it is
    a simple test (a text from a list) and called otherwise; it raises NotPlain (or any
    error) at the first doubt."""
    ns: dict[str, Any] = {"NotPlain": NotPlain, "dict": dict, "str": str, "type": type}
    ns["names"] = frozenset(s.name for s in specs)
    lines = [
        "def read(raw):",
        "    if type(raw) is not dict or not raw.keys() <= names:",
        "        raise NotPlain",
    ]
    for i, spec in enumerate(specs):
        name = repr(spec.name)
        lines.append(f"    v{i} = raw.get({name})")
        if spec.required:
            missing = "raise NotPlain"
        else:
            ns[f"d{i}"] = spec.default
            missing = f"v{i} = d{i}"
        test = _inline_test(spec, i, ns)
        if test is not None:
            lines += [
                f"    if v{i} is None:",
                f"        {missing}",
                f"    elif {test}:",
                "        raise NotPlain",
            ]
        else:
            ns[f"r{i}"] = reader(spec)
            lines += [
                f"    if v{i} is None:",
                f"        {missing}",
                "    else:",
                f"        v{i} = r{i}(v{i})",
            ]
    values = ", ".join(f"{spec.name!r}: v{i}" for i, spec in enumerate(specs))
    lines.append(f"    return {{{values}}}")
    scope = {"__builtins__": {}, **ns}
    exec(compile("\n".join(lines) + "\n", "<inputs>", "exec"), scope)
    read: Reader = scope["read"]
    return read


def _inline_test(spec: InputSpec, i: int, ns: dict[str, Any]) -> str | None:
    """For a text from a list, or a text matching a pattern, the test that refuses it,
    written inline (its names bound in `ns`); None for any other input."""
    if spec.type != "string" or spec.min_length is not None or spec.max_length is not None:
        return None
    if spec.enum is not None and not spec.pattern:
        ns[f"e{i}"] = frozenset(spec.enum)
        return f"type(v{i}) is not str or v{i} not in e{i}"
    if spec.pattern and spec.enum is None:
        ns[f"m{i}"] = re.compile(spec.pattern).fullmatch
        return f"type(v{i}) is not str or m{i}(v{i}) is None"
    return None


def _allowed(spec: InputSpec, value: Any) -> bool:
    return spec.enum is None or value in spec.enum


def _string(spec: InputSpec) -> Reader:
    enum = frozenset(spec.enum) if spec.enum is not None else None
    match = re.compile(spec.pattern).fullmatch if spec.pattern else None
    low, high = spec.min_length, spec.max_length
    if enum is not None and match is None and low is None and high is None:

        def member(raw: Any) -> str:
            if type(raw) is not str or raw not in enum:
                raise NotPlain
            return raw

        return member

    def string(raw: Any) -> str:
        if (
            type(raw) is not str
            or (enum is not None and raw not in enum)
            or (match is not None and match(raw) is None)
            or (low is not None and len(raw) < low)
            or (high is not None and len(raw) > high)
        ):
            raise NotPlain
        return raw

    return string


def _money(spec: InputSpec, currency: str) -> Reader:
    quantum = Decimal(1).scaleb(-MINOR_UNITS[currency])
    low, high = spec.minimum, spec.maximum
    Money(quantum, currency)  # the currency is one Money takes: checked here, once

    def trusted(amount: Decimal) -> Money:
        # Money's own checks (a Decimal, a known currency) hold already
        money = object.__new__(Money)
        object.__setattr__(money, "amount", amount)
        object.__setattr__(money, "currency", currency)
        return money

    def money(raw: Any) -> Money:
        if type(raw) is not dict or len(raw) != 2 or raw.get("currency") != currency:
            raise NotPlain
        text = raw.get("amount")
        if type(text) is not str or _AMOUNT(text) is None:
            raise NotPlain
        amount = Decimal(text)
        if (
            amount != amount.quantize(quantum)
            or (low is not None and amount < low)
            or (high is not None and amount > high)
            or (spec.enum is not None and Money(amount, currency) not in spec.enum)
        ):
            raise NotPlain
        return trusted(amount)

    return money


def _integer(spec: InputSpec) -> Reader:
    low, high = spec.minimum, spec.maximum

    def integer(raw: Any) -> int:
        if (
            type(raw) is not int
            or (low is not None and raw < low)
            or (high is not None and raw > high)
            or not _allowed(spec, raw)
        ):
            raise NotPlain
        return raw

    return integer


def _careful(spec: InputSpec) -> Reader:
    def careful(raw: Any) -> Any:
        return spec.parse(raw, spec.name)

    return careful


def json_writer(spec: InputSpec) -> Callable[[Any], Any] | None:
    """How a parsed value of the input is written as JSON; None: it is its own JSON."""
    if spec.type in ("string", "integer", "boolean"):
        return None
    if spec.type == "money":
        return _money_json
    if spec.type == "decimal":
        return str
    return _iso


def _money_json(value: Money) -> dict[str, str]:
    return value.to_json()


def _iso(value: date | datetime) -> str:
    return value.isoformat()
