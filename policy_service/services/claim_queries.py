"""Reading claims: a partner's claim, a page of them, a claim's audit log."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from policy_service.domain.claims import (
    Claim,
    ClaimStatus,
)
from policy_service.domain.errors import (
    InvalidRequest,
    NotFound,
)
from policy_service.domain.ids import has_prefix
from policy_service.domain.records import Caller, Policy

from .policies import policy_of
from .unit_of_work import Tx, UnitOfWork


def claim_of(tx: Tx, caller: Caller, claim_id: str, for_update: bool = False) -> Claim:
    """The caller's claim, or NotFound (another partner's claim is as missing)."""
    claim = None
    if has_prefix(claim_id, "clm"):
        claim = tx.claims.get(claim_id, caller.partner_id, caller.livemode, for_update)
    if claim is None:
        raise NotFound(f"no claim {claim_id}")
    return claim


def claim_with_attachments(
    uow: UnitOfWork, caller: Caller, claim_id: str
) -> tuple[Claim, list[sa.Row[Any]]]:
    with uow.read() as tx:
        claim = claim_of(tx, caller, claim_id)
        return claim, tx.claims.attachments_of(claim.id)


def list_claims(
    uow: UnitOfWork,
    caller: Caller,
    limit: int,
    starting_after: str | None,
    policy: str | None,
    status: str | None,
    trigger_event: str | None = None,
) -> tuple[list[Claim], bool]:
    if status is not None and status not in {s.value for s in ClaimStatus}:
        raise InvalidRequest(
            f"must be one of: {', '.join(s.value for s in ClaimStatus)}", param="status"
        )
    with uow.read() as tx:
        return tx.claims.list_page(
            limit,
            starting_after,
            partner_id=caller.partner_id,
            livemode=caller.livemode,
            policy_id=policy,
            status=status,
            trigger_event=trigger_event,
        )


def policy_with_claims(
    uow: UnitOfWork, caller: Caller, policy_id: str
) -> tuple[Policy, list[Claim]]:
    """The caller's policy and its claims, oldest first."""
    with uow.read() as tx:
        policy = policy_of(tx, caller, policy_id)
        return policy, tx.claims.of_policy(policy.id)


def audit_log(tx: Tx, claim_id: str) -> list[sa.Row[Any]]:
    return tx.claims.audit_of(claim_id)
