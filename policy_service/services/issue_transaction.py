"""Issuing, second half: one short transaction writes every prepared item with multi-row
statements, in this order:

  1. idempotency records (the response each item will get), so a concurrent duplicate
     waits on the unique key and then replays instead of issuing twice;
  2. policies, skipping rows that hit the external_ref or quote unique keys;
  3. cover locks, so one person/flight or one order is never covered twice;
  4. the keys triggers find each policy by, the outbox events, the premiums' ledger entries.

Items that fail in steps 2-3 get their error written over their idempotency record in
the same transaction. A single POST /v1/policies is a batch of one. The policy's JSON is
written nowhere but in the answer: its key and its policy.issued event name the policy,
and a replay or a reader makes its JSON as issued again (services/issued.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import orjson
import sqlalchemy as sa

from policy_service.adapters import (
    events_repo,
)
from policy_service.adapters.idempotency_repo import Answer
from policy_service.domain.errors import (
    Conflict,
    IdempotencyError,
    ServiceError,
)
from policy_service.domain.ids import new_id
from policy_service.domain.ledger import Entry, period_of, premium_entry
from policy_service.domain.money import MINOR_UNITS
from policy_service.domain.records import AsIssued, Caller, Policy

from . import batch_envelope, issued, metrics
from .batch_envelope import Envelope
from .idempotency import Outcome, RenderError, dumps, replay_stored
from .issuing import IssueItem, Issuing, RenderOk, duplicate_cover, storable
from .outbox import record_events
from .unit_of_work import Tx


@dataclass
class IssueResult:
    outcomes: list[Outcome]
    #: the whole batch's response when an Envelope was given
    envelope: Outcome | None = None


_ATTEMPTS = 3


def issue_many(
    issuing: Issuing, caller: Caller, items: list[IssueItem], envelope: Envelope | None = None
) -> IssueResult:
    """Write every prepared item in one transaction; one outcome per item, in order.
    The premiums go into the ledger as collected by the partner (partner-settled billing)."""
    _replay_refused_retries(issuing, caller, items)
    now = issuing.clock()
    held = True
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            try:
                return _counted(_issue_once(issuing, caller, items, now, envelope, held))
            except _HeldWriteRefused:
                # A replay, a duplicate or a taken cover: nothing was committed; the
                # general path sorts out each item.
                held = False
                return _counted(_issue_once(issuing, caller, items, now, envelope, held))
        except sa.exc.OperationalError as exc:
            # Two batches locking the same unique keys in different orders: PostgreSQL
            # aborts one; nothing was committed, so run it again.
            if attempt == _ATTEMPTS or getattr(exc.orig, "sqlstate", None) not in (
                "40P01",
                "40001",
            ):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _counted(result: IssueResult) -> IssueResult:
    """Count the policies this call issued (committed; not the replays)."""
    for outcome in result.outcomes:
        if outcome.status == 201 and not outcome.replayed and outcome.policy is not None:
            metrics.issued(outcome.policy.product_code, outcome.policy.livemode)
    return result


def _replay_refused_retries(issuing: Issuing, caller: Caller, items: list[IssueItem]) -> None:
    """A retry whose request would now be refused as invalid (the product changed since)
    still gets the stored response of its first attempt."""
    refused = [i for i in items if i.key and i.error is not None and not storable(i.error)]
    if not refused:
        return
    with issuing.uow.read() as tx:
        stored = issued.answers(
            tx,
            tx.idempotency.fetch_many(
                caller.partner_id, caller.livemode, [i.key for i in refused if i.key]
            ),
            issuing.render_policy,
        )
    for item in refused:
        record = stored.get(item.key or "")
        if record is not None and record.fingerprint == item.fingerprint:
            item.error, item.replay = None, replay_stored(record, item.fingerprint)


class _HeldWriteRefused(Exception):
    """The one-statement write found a conflict: roll back and take the general path."""


class _EnvelopeTaken(Exception):
    pass


def _issue_once(
    issuing: Issuing,
    caller: Caller,
    items: list[IssueItem],
    now: datetime,
    envelope: Envelope | None,
    held: bool,
) -> IssueResult:
    """One transaction. With `held`, the inserts of every item go out as one statement
    (adapters/held_inserts.py) on the assumption that none conflicts; a conflict raises
    _HeldWriteRefused (the transaction rolls back). Without, each conflict is handled."""
    outcomes: dict[int, Outcome] = {}
    to_claim: list[IssueItem] = []
    for item in items:
        if item.replay is not None:
            outcomes[item.index] = item.replay
            continue
        if item.draft is None:
            assert item.error is not None
            if item.key is None or not storable(item.error):
                status, body = issuing.render_error(item.error)
                outcomes[item.index] = Outcome(status, dumps(body))
                continue
        if item.key is not None:
            to_claim.append(item)
        else:
            outcomes[item.index] = _provisional(item, issuing.render_ok, issuing.render_error)
    try:
        with issuing.uow.write() as tx:
            if envelope is not None and not tx.idempotency.claim_many(
                caller.partner_id,
                caller.livemode,
                [(envelope.key, envelope.fingerprint, 202, "")],
                now,
            ):
                raise _EnvelopeTaken
            with tx.held_inserts(held) as flush:
                replays = _write(issuing, tx, caller, items, to_claim, outcomes, now)
                if not flush():
                    raise _HeldWriteRefused
            if replays:
                # Read inside the transaction: the rows we waited on are committed by now.
                _replay(tx, caller, replays, outcomes, issuing)
            result = IssueResult([outcomes[item.index] for item in items])
            if envelope is not None:
                status, body = envelope.render(result.outcomes)
                result.envelope = Outcome(status, dumps(body))
                tx.idempotency.update_response(
                    caller.partner_id,
                    caller.livemode,
                    envelope.key,
                    status,
                    batch_envelope.stored_text(result.outcomes),
                )
            return result
    except _EnvelopeTaken:
        assert envelope is not None
        replayed = batch_envelope.replayed(issuing.uow, caller, envelope, issuing.render_policy)
        assert replayed is not None  # the key was taken by a committed batch
        return IssueResult([], replayed)


def _write(
    issuing: Issuing,
    tx: Tx,
    caller: Caller,
    items: list[IssueItem],
    to_claim: list[IssueItem],
    outcomes: dict[int, Outcome],
    now: datetime,
) -> list[IssueItem]:
    """Claim the keys, insert the policies, their events and ledger entries; returns the
    items whose key another request holds (to replay)."""
    replays: list[IssueItem] = []
    if to_claim:
        provisional = {
            i.index: _provisional(i, issuing.render_ok, issuing.render_error) for i in to_claim
        }
        to_claim.sort(key=lambda i: i.key or "")  # one lock order for concurrent batches
        claimed = tx.idempotency.claim_many(
            caller.partner_id,
            caller.livemode,
            [
                (i.key, i.fingerprint, provisional[i.index].status, _kept(provisional[i.index]))
                for i in to_claim
                if i.key and i.fingerprint
            ],
            now,
        )
        for i in to_claim:
            if i.key in claimed:
                outcomes[i.index] = provisional[i.index]
            else:
                replays.append(i)
    replayed = {i.index for i in replays}
    drafts = [i for i in items if i.draft is not None and i.index not in replayed]
    failed = insert_policies(tx, caller, drafts, now)
    for item in drafts:
        err = failed.get(item.index)
        if err is None:
            continue
        status, body = issuing.render_error(err)
        outcomes[item.index] = Outcome(status, dumps(body))
        if item.key is not None:
            tx.idempotency.update_response(
                caller.partner_id, caller.livemode, item.key, status, dumps(body)
            )
    issued = [i.draft.policy for i in drafts if i.index not in failed and i.draft is not None]
    record_events(
        tx,
        [
            # no data: the policy as issued is made from its row when the event is read
            policy_event("policy.issued", item.draft.policy, None)
            for item in drafts
            if item.index not in failed and item.draft is not None
        ],
    )
    period = period_of(now, issuing.settlement_timezone)
    tx.ledger.insert_entries(
        [
            (p.partner_id, p.id, p.livemode, "partner", _premium_entry(p), now, period)
            for p in issued
        ],
    )
    return replays


def _kept(outcome: Outcome) -> Answer:
    """What an Idempotency-Key keeps of an answer: the policy it issued (its JSON is made
    again from the row), or the error as sent."""
    return AsIssued(outcome.policy.id) if outcome.policy is not None else outcome.body


def _premium_entry(policy: Policy) -> Entry:
    return premium_entry(policy.premium, MINOR_UNITS[policy.premium.currency])


def _provisional(item: IssueItem, render_ok: RenderOk, render_error: RenderError) -> Outcome:
    if item.draft is not None:
        status, body = render_ok(item.draft.policy)
        return Outcome(status, dumps(body), policy=item.draft.policy)
    assert item.error is not None
    status, body = render_error(item.error)
    return Outcome(status, dumps(body))


def insert_policies(
    tx: Tx, caller: Caller, items: list[IssueItem], now: datetime
) -> dict[int, ServiceError]:
    """Insert the drafts' policies and cover locks; returns the errors of those refused."""
    failed: dict[int, ServiceError] = {}
    drafts = [(item.index, item.draft) for item in items if item.draft is not None]
    if not drafts:
        return failed
    # One lock order (product, external_ref) for concurrent batches.
    ordered = sorted(drafts, key=lambda d: (d[1].policy.product_code, d[1].policy.external_ref))
    inserted = tx.policies.insert_new([_as_stored(d.policy) for _, d in ordered])
    for index, draft in drafts:
        if draft.policy.id not in inserted:
            failed[index] = _unique_conflict(tx, caller, draft.policy)
    locks = sorted(
        (d.policy.product_code, d.cover_key, d.policy.id)
        for index, d in drafts
        if index not in failed and d.cover_key
    )
    got = tx.policies.lock_covers(caller.partner_id, caller.livemode, locks, now)
    lost = [pid for (_, _, pid) in locks if pid not in got]
    if lost:
        tx.policies.delete(lost)
        for index, draft in drafts:
            if draft.policy.id in lost:
                failed[index] = duplicate_cover(draft)
    tx.triggers.insert_subjects(
        [
            {"subject_key": key, "policy_id": d.policy.id, "partner_id": caller.partner_id}
            for index, d in drafts
            if index not in failed
            for key in sorted(d.subjects)
        ],
    )
    return failed


def _as_stored(policy: Policy) -> Policy:
    """A policy as its row keeps it: without its worksheet, which its pinned edition gives
    again from the risk at priced_at (policies.completed)."""
    return replace(policy, worksheet=None)


def _unique_conflict(tx: Tx, caller: Caller, pol: Policy) -> ServiceError:
    if pol.quote_id is not None:
        used_by = tx.quotes.policy_for_quote(pol.quote_id)
        if used_by is not None:
            return Conflict(
                f"quote {pol.quote_id} was already used by policy {used_by}",
                code="quote_already_used",
                param="quote",
                details={"policy": used_by},
            )
    existing = tx.policies.ids_by_external_ref(
        caller.partner_id, caller.livemode, pol.product_code, [pol.external_ref]
    ).get(pol.external_ref)
    return Conflict(
        f"a {pol.product_code} policy for external_ref {pol.external_ref!r} already exists: {existing}",
        code="duplicate_external_ref",
        param="external_ref",
        details={"policy": existing},
    )


def _replay(
    tx: Tx,
    caller: Caller,
    items: list[IssueItem],
    outcomes: dict[int, Outcome],
    issuing: Issuing,
) -> None:
    stored = issued.answers(
        tx,
        tx.idempotency.fetch_many(
            caller.partner_id, caller.livemode, [i.key for i in items if i.key]
        ),
        issuing.render_policy,
    )
    for item in items:
        record = stored.get(item.key or "")
        if record is None:  # pragma: no cover - claimed by a transaction that then rolled back
            raise Conflict(
                "a concurrent request with this Idempotency-Key failed; retry",
                code="idempotency_retry",
            )
        try:
            outcomes[item.index] = replay_stored(record, item.fingerprint)
        except IdempotencyError as err:
            status, body = issuing.render_error(err)
            outcomes[item.index] = Outcome(status, dumps(body))


def policy_event(event_type: str, policy: Policy, body_json: str | None) -> events_repo.NewEvent:
    """An event about a policy: its JSON as sent, or None for a policy as issued."""
    return events_repo.NewEvent(
        id=new_id("evt"),
        partner_id=policy.partner_id,
        livemode=policy.livemode,
        type=event_type,
        object_type="policy",
        object_id=policy.id,
        data=None if body_json is None else orjson.loads(body_json),
        created_at=policy.updated_at,
    )
