"""Money as Decimal with a currency; refuses floats and mixed currencies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

#: ISO 4217 minor-unit exponents of the currencies we accept.
MINOR_UNITS: dict[str, int] = {
    "CNY": 2,
    "HKD": 2,
    "TWD": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "SGD": 2,
    "JPY": 0,
    "KRW": 0,
}

_AMOUNT_RE = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,8})?")


class MoneyError(ValueError):
    """An amount or currency that cannot be money."""


def parse_amount(text: object) -> Decimal:
    """Parse a decimal amount given as a string (or int); never from a float."""
    if isinstance(text, (bool, float)):
        raise MoneyError('must be a decimal string such as "1.23", not a float')
    if isinstance(text, int):
        if abs(text) >= 10**15:
            raise MoneyError("is too large (at most 15 digits before the decimal point)")
        return Decimal(text)
    if isinstance(text, Decimal):
        return text
    if not isinstance(text, str) or not _AMOUNT_RE.fullmatch(text):
        raise MoneyError('must be a decimal string such as "1.23"')
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex keeps this out
        raise MoneyError('must be a decimal string such as "1.23"') from exc


def check_currency(currency: object) -> str:
    if not isinstance(currency, str) or currency not in MINOR_UNITS:
        raise MoneyError(f"unsupported currency {currency!r}; one of {', '.join(MINOR_UNITS)}")
    return currency


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise MoneyError(f"Money amount must be a Decimal, got {type(self.amount).__name__}")
        check_currency(self.currency)

    @classmethod
    def of(cls, amount: object, currency: str) -> Money:
        return cls(parse_amount(amount), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        return cls(Decimal(minor).scaleb(-MINOR_UNITS[currency]), currency).quantized()

    @property
    def exponent(self) -> int:
        return MINOR_UNITS[self.currency]

    def quantized(self, rounding: str = ROUND_HALF_UP) -> Money:
        return Money(
            self.amount.quantize(Decimal(1).scaleb(-self.exponent), rounding), self.currency
        )

    def is_quantized(self) -> bool:
        return self.amount == self.amount.quantize(Decimal(1).scaleb(-self.exponent))

    def to_minor(self) -> int:
        if not self.is_quantized():
            raise MoneyError(f"{self} has more decimals than {self.currency} allows")
        return int(self.amount.scaleb(self.exponent))

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def format_amount(self) -> str:
        """The amount as a string with exactly the currency's decimals."""
        return str(self.quantized().amount)

    def to_json(self) -> dict[str, str]:
        return {"amount": self.format_amount(), "currency": self.currency}

    def __str__(self) -> str:
        return f"{self.format_amount()} {self.currency}"
