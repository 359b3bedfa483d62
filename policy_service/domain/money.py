"""Money for the service: Decimal in code, integer minor units plus currency in storage."""

from decimal import Decimal

from pricing.money import MINOR_UNITS, Money, MoneyError, parse_amount

__all__ = ["MINOR_UNITS", "Money", "MoneyError", "from_minor", "parse_amount", "to_minor"]


def to_minor(amount: Decimal, currency: str) -> int:
    scaled = amount.scaleb(MINOR_UNITS[currency])
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} has more decimals than the currency allows")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    exp = MINOR_UNITS[currency]
    return (Decimal(minor).scaleb(-exp)).quantize(Decimal(1).scaleb(-exp))
