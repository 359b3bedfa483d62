"""Ledger entries as numbers: a premium entry carries the policy's itemised premium; a
refund entry reverses it in proportion, so a full refund reverses every part exactly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from .records import Premium

ENTRY_KINDS = ("premium", "refund", "payout", "endorsement")
#: partner_settled: the partner collected (or paid out) the money; stripe: we did
COLLECTED_BY = ("partner", "us")
#: open (a live preview of the month) | closed (never changes again)
STATEMENT_STATUSES = ("open", "closed")


@dataclass(frozen=True)
class Entry:
    kind: str  # premium | refund | payout | endorsement
    currency: str
    amount: int  # minor units, signed: premium +, refund -
    tax: int
    commission: int
    fees: int

    @property
    def net(self) -> int:
        return self.amount - self.tax - self.commission - self.fees


def _minor(amount: Decimal, currency_exponent: int) -> int:
    return int(amount.scaleb(currency_exponent).to_integral_value(ROUND_HALF_UP))


def premium_entry(p: Premium, exponent: int) -> Entry:
    return Entry(
        "premium",
        p.currency,
        _minor(p.total, exponent),
        _minor(p.tax, exponent),
        _minor(p.commission, exponent),
        _minor(p.fees, exponent),
    )


def endorsement_entry(before: Premium, after: Premium, exponent: int) -> Entry | None:
    """An endorsement's premium difference, part by part (None when nothing moved): the
    premium entry plus every endorsement entry is always the premium in force."""
    a, b = premium_entry(before, exponent), premium_entry(after, exponent)
    entry = Entry(
        "endorsement",
        after.currency,
        b.amount - a.amount,
        b.tax - a.tax,
        b.commission - a.commission,
        b.fees - a.fees,
    )
    if entry == Entry("endorsement", after.currency, 0, 0, 0, 0) and entry.net == 0:
        return None
    return entry


def refund_entry(p: Premium, refund: Decimal, exponent: int) -> Entry:
    """The refund reverses tax, commission and fees in proportion to refund / premium."""
    premium = premium_entry(p, exponent)
    amount = _minor(refund, exponent)
    if premium.amount == 0:
        return Entry("refund", p.currency, -amount, 0, 0, 0)

    def share(part: int) -> int:
        return int((Decimal(part) * amount / premium.amount).to_integral_value(ROUND_HALF_UP))

    return Entry(
        "refund",
        p.currency,
        -amount,
        -share(premium.tax),
        -share(premium.commission),
        -share(premium.fees),
    )


def period_of(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m")


def period_bounds(period: str, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) of a YYYY-MM period in the settlement time zone."""
    year, month = int(period[:4]), int(period[5:7])
    tz = ZoneInfo(timezone)
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    return start, end


def payout_entry(currency: str, amount: Decimal, exponent: int) -> Entry:
    """A claim paid: money out, all of it net (no tax, commission or fees on a claim)."""
    return Entry("payout", currency, -_minor(amount, exponent), 0, 0, 0)
