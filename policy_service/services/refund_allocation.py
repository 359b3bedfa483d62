"""Which charges a refund goes back on. A policy endorsed to a dearer premium was charged
twice (the premium, then the difference), and a payment API gives back on a charge at
most what it took: a refund is spread over the policy's charges, the latest first."""

from __future__ import annotations

import logging
from typing import Any

from .unit_of_work import Tx

log = logging.getLogger(__name__)


def allocate(tx: Tx, policy_id: str, amount: int) -> list[dict[str, Any]]:
    """The charges a refund of `amount` goes back on, [{"payment", "amount"}]: the latest
    first, each within what it took less what other refunds give back on it (a failed one
    gave nothing back; a returned charge has nothing left)."""
    taken: dict[str, int] = {}
    for r in tx.payments.refunds_of_policy(policy_id):
        if r.status != "failed" and r.payment_id is not None:
            for part in parts_of(r):
                taken[part["payment"]] = taken.get(part["payment"], 0) + part["amount"]
    charges = tx.payments.charges_of_policy(policy_id)
    parts: list[dict[str, Any]] = []
    left = amount
    for charge in reversed(charges):
        room = min(charge.amount - taken.get(charge.id, 0), left)
        if room > 0:
            parts.append({"payment": charge.id, "amount": room})
            left -= room
    if left:  # more than was ever taken: never, but the payment API, not we, says no
        log.error("a refund of %s exceeds what its charges took by %s", policy_id, left)
        if parts:
            parts[-1]["amount"] += left
        else:
            parts.append({"payment": charges[0].id, "amount": left})
    return parts


def parts_of(refund: Any) -> list[dict[str, Any]]:
    """The charges a refund goes back on (a refund from before allocations: its payment)."""
    if refund.allocation:
        return list(refund.allocation)
    return [{"payment": refund.payment_id, "amount": refund.amount}]
