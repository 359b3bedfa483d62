"""Settlement statements (bordereaux): one line per policy with ledger entries in the month.

A month closes once it has ended (in the settlement time zone): its statement takes every
entry not yet settled up to that month, is written once, and never changes. An entry
that arrives after its month closed lands on the next statement (flagged late).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from policy_service.domain.errors import InvalidRequest, NotFound
from policy_service.domain.ids import has_prefix, new_id
from policy_service.domain.ledger import period_bounds, period_of
from policy_service.domain.records import Caller

from .unit_of_work import Tx, UnitOfWork

_PERIOD = re.compile(r"(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])")


#: the money columns of a statement line and of its totals, in display order
AMOUNTS = ("premium", "tax", "commission", "fees", "refund", "payout", "net_due")


@dataclass(frozen=True)
class Line:
    policy: str
    external_ref: str
    product: str
    currency: str
    premium: int
    refund: int
    payout: int  # claims paid (partner_settled: by the partner to its buyer)
    tax: int
    commission: int
    fees: int
    net_due: int
    late: bool


@dataclass(frozen=True)
class Statement:
    id: str | None
    period: str
    status: str  # open | closed
    billing_mode: str
    closed_at: datetime | None
    lines: list[Line]
    totals: list[dict[str, Any]]


def check_period(value: Any) -> str:
    if not isinstance(value, str) or not _PERIOD.fullmatch(value):
        raise InvalidRequest("must be a month as YYYY-MM", param="period")
    return value


def _lines(rows: list[sa.Row[Any]], period: str) -> list[Line]:
    out = []
    for r in rows:
        premium, refund, commission = int(r.premium), int(r.refund), int(r.commission)
        # What the partner owes us: what it collected (premiums less the refunds and claims
        # it paid out), less its commission. With stripe billing we collected and paid out:
        # we owe the commission.
        collected = int(r.collected_by_partner)
        out.append(
            Line(
                r.policy_id,
                r.external_ref,
                r.product_code,
                r.currency,
                premium,
                refund,
                int(r.payout),
                int(r.tax),
                commission,
                int(r.fees),
                collected - commission,
                r.first_period < period,
            )
        )
    return out


def totals_of(lines: list[Line]) -> list[dict[str, Any]]:
    by_currency: dict[str, dict[str, Any]] = {}
    for line in lines:
        t = by_currency.setdefault(
            line.currency,
            {
                "currency": line.currency,
                "premium": 0,
                "refund": 0,
                "payout": 0,
                "tax": 0,
                "commission": 0,
                "fees": 0,
                "net_due": 0,
            },
        )
        for key in AMOUNTS:
            t[key] += getattr(line, key)
    return [by_currency[c] for c in sorted(by_currency)]


def statement_for(
    uow: UnitOfWork, caller: Caller, period: Any, now: datetime, timezone: str
) -> Statement:
    """The month's statement: closed (and closed now if the month has ended: that writes),
    or a live preview of the open month."""
    period = check_period(period)
    start, end = period_bounds(period, timezone)
    if start > now:
        raise InvalidRequest("this month has not started yet", param="period")
    if now >= end:
        with uow.write() as tx:
            return close_through(tx, caller, period, now, timezone)
    with uow.read() as tx:
        rows = tx.ledger.open_lines(caller.partner_id, caller.livemode, period)
    lines = _lines(rows, period)
    return Statement(None, period, "open", caller.billing_mode, None, lines, totals_of(lines))


@dataclass(frozen=True)
class Summary:
    """A month in the list of statements: closed (with its totals), or the open month."""

    id: str | None
    period: str
    status: str
    billing_mode: str
    closed_at: datetime | None
    line_count: int | None
    totals: list[dict[str, Any]] | None


def list_statements(uow: UnitOfWork, caller: Caller, now: datetime, timezone: str) -> list[Summary]:
    """The partner's months, newest first: the month in progress (open; its statement is a
    live preview), then every closed statement. A month that has ended with entries not
    yet on a statement is closed first, as reading it would close it."""
    current = period_of(now, timezone)
    with uow.write() as tx:
        earliest = tx.ledger.earliest_unsettled_period(caller.partner_id, caller.livemode)
        if earliest is not None and earliest < current:
            close_through(tx, caller, _months(earliest, current)[-2], now, timezone)
        rows = tx.ledger.list_statements(caller.partner_id, caller.livemode)
    months = [Summary(None, current, "open", caller.billing_mode, None, None, None)]
    return months + [
        Summary(r.id, r.period, "closed", r.billing_mode, r.closed_at, r.line_count, r.totals)
        for r in rows
    ]


def close_through(tx: Tx, caller: Caller, period: str, now: datetime, timezone: str) -> Statement:
    """Close every ended month up to `period`, oldest first, and return `period`'s statement."""
    existing = tx.ledger.get_statement(caller.partner_id, caller.livemode, period=period)
    if existing is not None:
        return _load(tx, caller, existing.id)
    earliest = tx.ledger.earliest_unsettled_period(caller.partner_id, caller.livemode)
    if earliest is not None and earliest < period:
        for month in _months(earliest, period)[:-1]:
            if tx.ledger.get_statement(caller.partner_id, caller.livemode, period=month) is None:
                _close_one(tx, caller, month, now)
    return _close_one(tx, caller, period, now)


def _months(first: str, last: str) -> list[str]:
    y, m = int(first[:4]), int(first[5:7])
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _close_one(tx: Tx, caller: Caller, period: str, now: datetime) -> Statement:
    """Claim the entries first, then total exactly what was claimed: an entry committed while
    the month closes is either on this statement, in its lines and its totals, or on the next."""
    statement_id = new_id("stm")
    inserted = tx.ledger.insert_statement(
        {
            "id": statement_id,
            "partner_id": caller.partner_id,
            "livemode": caller.livemode,
            "period": period,
            "billing_mode": caller.billing_mode,
            "totals": [],
            "line_count": 0,
            "closed_at": now,
        },
    )
    if not inserted:  # closed concurrently by another request: that one is the statement
        existing = tx.ledger.get_statement(caller.partner_id, caller.livemode, period=period)
        assert existing is not None
        return _load(tx, caller, existing.id)
    tx.ledger.assign(caller.partner_id, caller.livemode, period, statement_id)
    lines = _lines(tx.ledger.statement_lines(statement_id), period)
    tx.ledger.set_totals(statement_id, totals_of(lines), len(lines))
    return _load(tx, caller, statement_id)


def load(uow: UnitOfWork, caller: Caller, statement_id: str) -> Statement:
    """A closed statement."""
    with uow.read() as tx:
        return _load(tx, caller, statement_id)


def _load(tx: Tx, caller: Caller, statement_id: str) -> Statement:
    row = None
    if has_prefix(statement_id, "stm"):
        row = tx.ledger.get_statement(caller.partner_id, caller.livemode, statement_id=statement_id)
    if row is None:
        raise NotFound(f"no statement {statement_id}")
    lines = _lines(tx.ledger.statement_lines(statement_id), row.period)
    return Statement(
        row.id, row.period, "closed", row.billing_mode, row.closed_at, lines, row.totals
    )
