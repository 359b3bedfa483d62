"""A product's experience from the database: its sold policies and paid claims as tables
for pricing.experience."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pandas as pd

from policy_service.domain.money import MINOR_UNITS
from pricing.experience import experience

from .impact import read_counted
from .unit_of_work import UnitOfWork


def book(
    uow: UnitOfWork,
    product: str,
    livemode: bool,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(policies, paid claims) in major units; each policy's scalar inputs become columns.
    `progress` hears (policies read, policies in all)."""
    with uow.read() as tx:
        total, stream = tx.policies.experience_rows(product, livemode)
        rows = read_counted(stream, total, progress)
        paid = tx.claims.paid_for_product(product, livemode)

    def major(minor: int | None, currency: str) -> float:
        # report figures, not money that moves: earned premium is a pro-rata estimate
        return 0.0 if minor is None else minor / 10 ** MINOR_UNITS[currency]

    policies = pd.DataFrame(
        {
            "policy_id": [r.id for r in rows],
            "edition": [r.edition_id.split("/", 1)[1] for r in rows],
            "partner": [r.partner_id for r in rows],
            "status": [r.status for r in rows],
            "created_at": [r.created_at for r in rows],
            "coverage_start": [r.coverage_start for r in rows],
            "coverage_end": [r.coverage_end for r in rows],
            "premium_total": [major(r.premium_total, r.currency) for r in rows],
            "premium_tax": [major(r.premium_tax, r.currency) for r in rows],
            "refund": [major(r.refund_amount, r.currency) for r in rows],
        }
    )
    inputs = pd.DataFrame(
        [{k: (v["amount"] if isinstance(v, dict) else v) for k, v in r.risk.items()} for r in rows]
    )
    for column in inputs.columns:
        if column not in policies.columns:
            policies[column] = inputs[column].to_numpy()
    claims = pd.DataFrame(
        {
            "policy_id": [c.policy_id for c in paid],
            "amount_paid": [major(c.amount_paid, c.currency) for c in paid],
        }
    )
    return policies, claims


def product_experience(
    uow: UnitOfWork,
    product: str,
    by: list[str],
    period: str,
    livemode: bool,
    now: datetime,
    tz: str,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    policies, claims = book(uow, product, livemode, progress)
    return experience(policies, claims, by, now, period, tz)
