"""One typed input declaration: it validates a value and describes it as JSON Schema."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .errors import InputError
from .money import Money, MoneyError, check_currency, parse_amount

INPUT_TYPES = ("string", "integer", "decimal", "money", "date", "datetime", "boolean")

_DECIMAL_PATTERN = r"^-?\d{1,15}(\.\d{1,8})?$"


#: dates outside these years are refused as input: nobody insures them, and date
#: arithmetic near year 9999 would overflow
MIN_YEAR, MAX_YEAR = 1900, 2200


def _in_range(value: date) -> None:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"must be between the years {MIN_YEAR} and {MAX_YEAR}")


def parse_datetime(raw: object) -> datetime:
    """An ISO 8601 date-time that must carry a UTC offset."""
    if not isinstance(raw, str) or "T" not in raw:
        raise ValueError(
            "must be an ISO 8601 date-time with a UTC offset, e.g. 2026-12-01T08:30:00+08:00"
        )
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            "must be an ISO 8601 date-time with a UTC offset, e.g. 2026-12-01T08:30:00+08:00"
        ) from None
    if value.tzinfo is None:
        raise ValueError("must include a UTC offset, e.g. +08:00 or Z")
    _in_range(value)
    return value


def parse_date(raw: object) -> date:
    if not isinstance(raw, str) or len(raw) != 10:
        raise ValueError("must be a date as YYYY-MM-DD")
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise ValueError("must be a date as YYYY-MM-DD") from None
    _in_range(value)
    return value


@dataclass(frozen=True)
class InputSpec:
    """One declared input of a product edition (or a derived value, when `expr` is set)."""

    name: str
    type: str
    required: bool = True
    description: str = ""
    enum: tuple[Any, ...] | None = None
    pattern: str | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    min_length: int | None = None
    max_length: int | None = None
    currency: str | None = None
    default: Any = None
    _regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", re.compile(self.pattern) if self.pattern else None)

    # -- validation -------------------------------------------------------------------
    def parse(self, raw: Any, param: str) -> Any:
        """Turn a JSON value into the typed value, or raise InputError naming `param`."""
        try:
            value = self._parse_type(raw)
        except (ValueError, MoneyError) as exc:
            raise InputError(param, str(exc)) from None
        self._check_constraints(value, param)
        return value

    def _parse_type(self, raw: Any) -> Any:
        t = self.type
        if t == "string":
            if not isinstance(raw, str):
                raise ValueError("must be a string")
            return raw
        if t == "integer":
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise ValueError("must be an integer")
            return raw
        if t == "decimal":
            if isinstance(raw, bool) or not isinstance(raw, str | int):
                raise ValueError('must be a decimal string such as "1.5" (never a float)')
            return parse_amount(raw)
        if t == "money":
            if not isinstance(raw, dict) or set(raw) != {"amount", "currency"}:
                raise ValueError('must be money: {"amount": "12.34", "currency": "CNY"}')
            # A product's money inputs are in its currency; a trigger's in any known one.
            currency = self.currency or check_currency(raw["currency"])
            if raw["currency"] != currency:
                raise ValueError(f"currency must be {currency}")
            money = Money(parse_amount(raw["amount"]), currency)
            if not money.is_quantized():
                raise ValueError(f"amount has more decimals than {currency} allows")
            return money
        if t == "date":
            return parse_date(raw)
        if t == "datetime":
            return parse_datetime(raw)
        if t == "boolean":
            if not isinstance(raw, bool):
                raise ValueError("must be true or false")
            return raw
        raise ValueError(f"unknown input type {t}")  # pragma: no cover - loader refuses it

    def _check_constraints(self, value: Any, param: str) -> None:
        if self.enum is not None and value not in self.enum:
            raise InputError(param, f"must be one of: {', '.join(map(str, self.enum))}")
        regex = self._regex
        if regex is not None and not regex.fullmatch(value):
            raise InputError(param, f"does not match the pattern {self.pattern}")
        if self.min_length is not None and len(value) < self.min_length:
            raise InputError(param, f"must be at least {self.min_length} characters")
        if self.max_length is not None and len(value) > self.max_length:
            raise InputError(param, f"must be at most {self.max_length} characters")
        number = value.amount if isinstance(value, Money) else value
        if self.minimum is not None and number < self.minimum:
            raise InputError(param, f"must be at least {self.minimum}", "input_out_of_range")
        if self.maximum is not None and number > self.maximum:
            raise InputError(param, f"must be at most {self.maximum}", "input_out_of_range")

    # -- JSON ---------------------------------------------------------------------------
    def to_json(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, Money):
            return value.to_json()
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        return value

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any]
        t = self.type
        if t == "string":
            schema = {"type": "string"}
            if self.pattern:
                schema["pattern"] = self.pattern
            if self.min_length is not None:
                schema["minLength"] = self.min_length
            if self.max_length is not None:
                schema["maxLength"] = self.max_length
        elif t == "integer":
            schema = {"type": "integer"}
            if self.minimum is not None:
                schema["minimum"] = int(self.minimum)
            if self.maximum is not None:
                schema["maximum"] = int(self.maximum)
        elif t == "decimal":
            schema = {"type": "string", "format": "decimal", "pattern": _DECIMAL_PATTERN}
        elif t == "money":
            schema = {
                "type": "object",
                "required": ["amount", "currency"],
                "additionalProperties": False,
                "properties": {
                    "amount": {"type": "string", "format": "decimal", "pattern": _DECIMAL_PATTERN},
                    "currency": (
                        {"type": "string", "enum": [self.currency]}
                        if self.currency
                        else {"type": "string", "pattern": "^[A-Z]{3}$"}
                    ),
                },
            }
        elif t == "date":
            schema = {"type": "string", "format": "date"}
        elif t == "datetime":
            schema = {"type": "string", "format": "date-time"}
        else:
            schema = {"type": "boolean"}
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        notes = []
        if t in ("decimal", "money") and (self.minimum is not None or self.maximum is not None):
            notes.append(
                f"range {self.minimum if self.minimum is not None else '-inf'}"
                f" .. {self.maximum if self.maximum is not None else 'inf'}"
            )
        description = self.description + (f" ({'; '.join(notes)})" if notes else "")
        if description:
            schema["description"] = description
        return schema
