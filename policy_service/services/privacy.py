"""Privacy requests (PIPL, GDPR): a copy of everything held about a person, the erasure of
it, and the retention sweep that erases it a set time after the person's cover ended.

A person is named by an ID number (matched through its keyed hash: the number itself was
never stored). Erasure replaces the name, phone, ID hash and last 4 on their policies and
endorsements, the free text, evidence and attachments of their claims, and every copy of
their policy's JSON (events, stored answers); policies, claims, the ledger, statements and
the audit keep their money and their ids. A policy still in force, or with a claim still
open, is kept (the contract needs it) and said so. Every request is recorded, without the
person: who asked, which policies it covered, which it kept and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from policy_service.adapters import policies_repo
from policy_service.adapters.file_store import FileStore
from policy_service.domain.claims import OPEN_STATUSES, Claim
from policy_service.domain.errors import InvalidRequest, NotFound
from policy_service.domain.ids import new_id
from policy_service.domain.lifecycle import PolicyStatus
from policy_service.domain.policyholder import holder_match
from policy_service.domain.records import Caller, Endorsement, Policy

from .unit_of_work import Tx, UnitOfWork


@dataclass
class Held:
    """Everything held about a person."""

    policies: list[Policy]
    claims: list[Claim]
    endorsements: list[Endorsement]


@dataclass
class Erasure:
    erased: list[str] = field(default_factory=list)
    #: policy id -> why it was kept
    kept: dict[str, str] = field(default_factory=dict)


def _hashes(hash_key: bytes, id_number: Any, id_type: Any) -> tuple[str, ...]:
    if not isinstance(id_number, str):
        raise InvalidRequest("is required: the person's ID number", param="id_number")
    if id_type is not None and not isinstance(id_type, str):
        raise InvalidRequest("must be text", param="id_type")
    try:
        match = holder_match(hash_key, id_number=id_number, id_type=id_type)
    except InvalidRequest as exc:  # named as this request names them
        param = (exc.param or "").replace("policyholder_", "")
        raise InvalidRequest(exc.message, param=param) from None
    assert match is not None and match.id_hashes is not None
    return match.id_hashes


def export(
    uow: UnitOfWork,
    hash_key: bytes,
    id_number: Any,
    id_type: Any,
    caller: Caller | None,
    now: datetime,
) -> Held:
    """Everything held about the person: their policies (the ID only as its last 4),
    claims and endorsements; a partner's request sees its own."""
    hashes = _hashes(hash_key, id_number, id_type)
    with uow.write() as tx:
        found = _policies(tx, hashes, caller)
        _record(tx, "export", caller, [p.id for p in found], {}, now)
        return Held(
            found,
            [c for p in found for c in tx.claims.of_policy(p.id)],
            [e for p in found for e in tx.endorsements.of_policy(p.id)],
        )


def erase(
    uow: UnitOfWork,
    files: FileStore,
    hash_key: bytes,
    id_number: Any,
    id_type: Any,
    caller: Caller | None,
    now: datetime,
) -> Erasure:
    """Erase the person from their policies (see the module's docstring)."""
    hashes = _hashes(hash_key, id_number, id_type)
    with uow.write() as tx:
        found = _policies(tx, hashes, caller)
        if not found:
            raise NotFound("no policy names this person")
        result, unused = _erase(tx, found, now)
        _record(tx, "erasure", caller, [p.id for p in found], result.kept, now)
    for sha256 in unused:  # after the commit: a rolled back erasure keeps its files
        files.delete(sha256)
    return result


def apply_retention(
    uow: UnitOfWork, files: FileStore, now: datetime, days: int, limit: int = 500
) -> int:
    """Erase the people of policies whose cover ended more than `days` ago (the worker's
    sweep, PRIVACY_RETENTION_DAYS); returns how many policies it erased."""
    with uow.write() as tx:
        rows = tx.privacy.retained_past(now - timedelta(days=days), limit)
        found = [policies_repo.from_row(r) for r in rows]
        if not found:
            return 0
        # answers are stored a day; covers ended `days` ago have none left to scrub
        result, unused = _erase(tx, found, now, stored_answers=False)
        if result.erased:
            _record(tx, "retention", None, result.erased, {}, now)
    for sha256 in unused:
        files.delete(sha256)
    return len(result.erased)


def _policies(tx: Tx, hashes: tuple[str, ...], caller: Caller | None) -> list[Policy]:
    rows = tx.privacy.policies_of_holder(
        hashes,
        caller.partner_id if caller else None,
        caller.livemode if caller else None,
    )
    return [policies_repo.from_row(r) for r in rows]


def _erase(
    tx: Tx, found: list[Policy], now: datetime, stored_answers: bool = True
) -> tuple[Erasure, list[str]]:
    result = Erasure()
    for policy in found:
        why = _kept_because(tx, policy, now)
        if why:
            result.kept[policy.id] = why
        else:
            result.erased.append(policy.id)
    if not result.erased:
        return result, []
    tx.privacy.erase_policies(result.erased, now)  # changed now: the next export takes it
    attached = tx.privacy.erase_claims(result.erased)
    tx.privacy.scrub_copies(result.erased, stored_answers)
    unused = sorted({s for s in attached if not tx.privacy.file_still_used(s)})
    return result, unused


def _kept_because(tx: Tx, policy: Policy, now: datetime) -> str | None:
    if policy.status == PolicyStatus.ACTIVE.value and policy.coverage_end > now:
        return "in force: the contract still needs the person"
    if policy.status == PolicyStatus.PENDING_PAYMENT.value:
        return "its payment is not settled yet"
    if any(c.status in OPEN_STATUSES for c in tx.claims.of_policy(policy.id)):
        return "a claim on it is still open"
    return None


def _record(
    tx: Tx,
    kind: str,
    caller: Caller | None,
    policy_ids: list[str],
    kept: dict[str, str],
    now: datetime,
) -> None:
    tx.privacy.record(
        {
            "id": new_id("prq"),
            "kind": kind,
            "partner_id": caller.partner_id if caller else None,
            "livemode": caller.livemode if caller else None,
            "requested_by": caller.key_id
            if caller
            else ("retention" if kind == "retention" else "cli"),
            "policies": policy_ids,
            "kept": kept,
            "created_at": now,
        }
    )
