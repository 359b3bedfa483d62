"""Money for the service: Decimal in code, integer minor units plus currency in storage."""

from pricing.money import MINOR_UNITS, Money, MoneyError, parse_amount

__all__ = ["MINOR_UNITS", "Money", "MoneyError", "parse_amount"]
