"""Reading policies: one, or a page of a partner's."""

from __future__ import annotations

from policy_service.domain.errors import (
    NotFound,
)
from policy_service.domain.ids import has_prefix
from policy_service.domain.records import Caller, Policy

from .unit_of_work import Tx, UnitOfWork


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
) -> tuple[list[Policy], bool]:
    with uow.read() as tx:
        return tx.policies.list_page(
            caller.partner_id, caller.livemode, limit, starting_after, external_ref, status, product
        )
