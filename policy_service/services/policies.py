"""Reading policies: one, or a page of a partner's; and a policy's worksheet made again
where it was not stored."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from policy_service.domain.errors import (
    NotFound,
)
from policy_service.domain.ids import has_prefix
from policy_service.domain.policyholder import HolderMatch
from policy_service.domain.records import Caller, Policy
from pricing import engine
from pricing.model import Edition

from .catalog import ProductCatalog
from .unit_of_work import Tx, UnitOfWork

log = logging.getLogger(__name__)


def policy_of(tx: Tx, caller: Caller, policy_id: str, for_update: bool = False) -> Policy:
    """The caller's policy, or NotFound."""
    policy = None
    if has_prefix(policy_id, "pol"):
        policy = tx.policies.get(caller.partner_id, caller.livemode, policy_id, for_update)
    if policy is None:
        # Another partner's policy, or the other mode's, is as missing as one that never was.
        raise NotFound(f"no policy {policy_id}")
    return policy


def get_policy(uow: UnitOfWork, caller: Caller, policy_id: str) -> Policy:
    with uow.read() as tx:
        return policy_of(tx, caller, policy_id)


def list_policies(
    uow: UnitOfWork,
    caller: Caller,
    limit: int,
    starting_after: str | None,
    external_ref: str | None,
    status: str | None,
    product: str | None,
    holder: HolderMatch | None = None,
) -> tuple[list[Policy], bool]:
    """A page of the caller's policies; `holder`: only a person's (by ID, phone or name),
    of every product, never another partner's."""
    with uow.read() as tx:
        return tx.policies.list_page(
            caller.partner_id,
            caller.livemode,
            limit,
            starting_after,
            external_ref,
            status,
            product,
            holder,
        )


def completed(catalog: ProductCatalog, policy: Policy) -> Policy:
    """The policy with its worksheet. A policy issued since 0008 stores none: it was priced
    at priced_at on its pinned edition, which gives the same worksheet again (pricing is
    deterministic, and editions in use never change). Should the edition be gone or price
    it otherwise, the worksheet says so instead of showing other figures."""
    if policy.worksheet is not None:
        return policy
    edition = catalog.pinned(policy.product_code, policy.edition, policy.content_hash)
    return replace(
        policy, worksheet=worksheet_again(edition, policy), risk=_declared_order(edition, policy)
    )


def _declared_order(edition: Edition | None, policy: Policy) -> dict[str, Any]:
    """The risk's inputs in the order the edition declares them, as when it was issued
    (PostgreSQL's jsonb keeps keys in an order of its own)."""
    if edition is None:
        return policy.risk
    declared = edition.inputs.by_name
    ordered = {name: policy.risk[name] for name in declared if name in policy.risk}
    return ordered | {k: v for k, v in policy.risk.items() if k not in declared}


def worksheet_again(edition: Edition | None, policy: Policy) -> dict[str, Any]:
    """The worksheet as issued: the pricing at priced_at (a quote's, whose premium the
    policy holds), with the cover as computed at issue."""
    if edition is None:
        return _unavailable(policy, "the edition it was priced on is not loaded")
    priced_at = policy.priced_at or policy.created_at
    try:
        risk = edition.inputs.parse(policy.risk)
        priced = engine.price(edition, risk, priced_at)
        at_issue = priced if priced_at == policy.created_at else None
        if at_issue is None:
            at_issue = engine.price(edition, risk, policy.created_at)
    except Exception as exc:  # a view of one policy must not fail: it says why instead
        log.error("policy %s: its worksheet could not be made again: %s", policy.id, exc)
        return _unavailable(policy, "the edition no longer prices its risk")
    b, p = priced.breakdown, policy.premium
    if (
        b is None
        or at_issue.breakdown is None
        or (b.total, b.net, b.tax, b.commission, b.fees)
        != (p.total, p.net, p.tax, p.commission, p.fees)
    ):
        log.error("policy %s: its edition now gives another premium", policy.id)
        return _unavailable(policy, "the edition now gives another premium")
    if policy.quote_id is None:
        return priced.worksheet
    return quoted_worksheet(policy.quote_id, priced.worksheet, at_issue.worksheet)


def quoted_worksheet(
    quote_id: str, at_quote: dict[str, Any], at_issue: dict[str, Any]
) -> dict[str, Any]:
    """A policy issued from a quote: the quote's worksheet explains the held premium; the
    cover is the one computed at issue."""
    return {**at_quote, "quote": quote_id, "coverage": at_issue["coverage"]}


def _unavailable(policy: Policy, reason: str) -> dict[str, Any]:
    return {
        "edition": policy.edition,
        "content_hash": policy.content_hash,
        "priced_at": (policy.priced_at or policy.created_at).isoformat(),
        "inputs": policy.risk,
        "steps": [],
        "unavailable": reason,
    }
