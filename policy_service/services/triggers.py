"""Trigger events: a fact about the world settles every policy it concerns, in one pass.

The event is recorded and applied in one transaction, under a lock on its subject (the
flight, the order), so two reports about one flight are applied one after the other; the
matched policies are locked too, so a cancellation waits for the settlement or the other
way round. Of two reports on one subject the later observed one counts: an older report
arriving late is kept but changes nothing. The same report posted twice is one event.

A loss is paid only once it can have happened: each trigger type says when the loss it
reports happened (its event time: a delay of 245 minutes, 245 minutes after the scheduled
departure). A report observed before its event time is kept as `premature` and changes
nothing; a rule pays only for a loss within the policy's cover. A later report reaching a
higher tier tops a paying claim up; a lower one claws nothing back.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from policy_service.adapters import policies_repo, triggers_repo
from policy_service.domain.errors import InvalidRequest, PermissionDenied
from policy_service.domain.ids import new_id
from policy_service.domain.records import Caller
from pricing.claims import policy_subject_keys
from pricing.errors import InputErrors
from pricing.inputs import parse_datetime
from pricing.triggers import TriggerType, subject_key, to_json

from .claims import (
    Actor,
    ClaimsContext,
)
from .reports import Report
from .settlement import HeldWriteRefused, Settlement
from .unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

_FIELDS = {"type", "data", "observed_at"}
#: a live report may be stamped a little ahead of our clock, not more
_CLOCK_SKEW = timedelta(minutes=5)


def _invalid(exc: InputErrors) -> InvalidRequest:
    first = exc.errors[0]
    return InvalidRequest(
        first.message,
        param=first.param,
        code=first.code,
        details={"errors": [{"param": e.param, "message": e.message} for e in exc.errors]},
    )


def _source(caller: Caller) -> tuple[str, str, str | None]:
    """(source type, source id, partner whose policies alone it may touch)."""
    if caller.provider_id is not None:
        return "provider", caller.provider_id, None
    if caller.livemode:
        raise PermissionDenied(
            "in live mode only data-provider keys may post trigger events "
            "(`policy-service providers create NAME`); use a test key to simulate one",
            code="provider_key_required",
        )
    return "partner", caller.partner_id, caller.partner_id


def _observed_at(caller: Caller, body: dict[str, Any], now: datetime) -> datetime:
    """When the fact was observed. A test key may post one observed in the future: a
    simulated clock, judged as if it were then (test policies only)."""
    if body.get("observed_at") is None:
        return now
    try:
        observed_at = parse_datetime(body["observed_at"])
    except ValueError as exc:
        raise InvalidRequest(str(exc), param="observed_at") from None
    if caller.livemode and observed_at > now + _CLOCK_SKEW:
        raise InvalidRequest("is in the future", param="observed_at")
    return observed_at


def post_trigger(
    ctx: ClaimsContext, caller: Caller, body: Any, now: datetime
) -> tuple[sa.Row[Any], bool]:
    """Record and apply a trigger; returns its row and whether it is new (False: the same
    report was posted before, and nothing was done again)."""
    source_type, source_id, partner_scope = _source(caller)
    if not isinstance(body, dict):
        raise InvalidRequest("must be an object")
    unknown = set(body) - _FIELDS
    if unknown:
        raise InvalidRequest("is not a field of a trigger event", param=sorted(unknown)[0])
    kind = body.get("type")
    trigger = ctx.catalog.trigger_type(kind) if isinstance(kind, str) else None
    if trigger is None:
        known = ", ".join(t.name for t in ctx.catalog.trigger_types())
        raise InvalidRequest(f"must be one of: {known}", param="type")
    try:
        values = trigger.parse(body.get("data"), "data")
    except InputErrors as exc:
        raise _invalid(exc) from None
    observed_at = _observed_at(caller, body, now)
    data = to_json(trigger, values)
    fingerprint = hashlib.sha256(
        json.dumps(
            {"type": trigger.name, "data": data, "observed_at": body.get("observed_at")},
            sort_keys=True,
        ).encode()
    ).hexdigest()
    subject = trigger.subject_of(values)
    assert subject is not None  # parse() checked it
    if partner_scope is None and "external_ref" in subject:
        raise InvalidRequest(
            "external_ref is the selling partner's own order id: a data provider names the "
            "order by platform and order_id",
            param="data.external_ref",
        )
    key = subject_key(trigger.name, caller.livemode, subject, values)
    if partner_scope is not None:
        # A partner's simulation is a subject of its own: it never supersedes, nor is
        # superseded by, another partner's or a provider's reports.
        key = partner_scoped(key, partner_scope)
    # The same fact reported again (the same data, a later observed_at) is one fact.
    fact_key = hashlib.sha256(f"{key}\x1f{json.dumps(data, sort_keys=True)}".encode()).hexdigest()
    trigger_id = new_id("trg")
    row: dict[str, Any] = {
        "id": trigger_id,
        "livemode": caller.livemode,
        "source_type": source_type,
        "source_id": source_id,
        "type": trigger.name,
        "data": data,
        "subject_key": key,
        "observed_at": observed_at,
        "received_at": now,
        "fingerprint": fingerprint,
        "fact_key": fact_key,
        "status": "processed",
        "result": {},
    }
    posted = _Posted(trigger, values, data, row, partner_scope)
    try:
        return _apply(ctx, caller, posted, now, held=True)
    except HeldWriteRefused:
        # a claim for the same loss was filed meanwhile: nothing was written; again,
        # each claim's insert on its own
        return _apply(ctx, caller, posted, now, held=False)


@dataclass(frozen=True)
class _Posted:
    """A report as posted and checked: its type, values, JSON, row and partner scope."""

    trigger: TriggerType
    values: dict[str, Any]
    data: dict[str, Any]
    row: dict[str, Any]
    partner_scope: str | None


def partner_scoped(key: str, partner_id: str) -> str:
    """The subject key of a partner's own test-mode simulation of a report."""
    return hashlib.sha256(f"{key}\x1f{partner_id}".encode()).hexdigest()


def _apply(
    ctx: ClaimsContext, caller: Caller, posted: _Posted, now: datetime, held: bool
) -> tuple[sa.Row[Any], bool]:
    """One transaction: record the report, and settle what it concerns."""
    trigger, values, data, row = posted.trigger, posted.values, posted.data, posted.row
    trigger_id, key, fact_key = row["id"], row["subject_key"], row["fact_key"]
    observed_at, partner_scope = row["observed_at"], posted.partner_scope
    with ctx.uow.write() as tx:
        if not tx.triggers.insert_trigger(row):
            existing = tx.triggers.trigger_by_fingerprint(
                row["source_id"], caller.livemode, row["fingerprint"]
            )
            assert existing is not None
            return existing, False
        locks = [key]
        if trigger.evidence_field and values.get(trigger.evidence_field):
            # Two orders claiming with one shipment must not both pass the reuse check.
            evidence = str(values[trigger.evidence_field]).upper()
            locks.append(hashlib.sha256(evidence.encode()).hexdigest())
        tx.triggers.lock_subjects(locks)
        newer, fact_first, subject_first = tx.triggers.history(
            key, fact_key, observed_at, trigger_id
        )
        first_seen = min(observed_at, fact_first or observed_at)
        event_time = trigger.event_time_of(values, first_seen)
        if newer is not None:
            stored = tx.triggers.finish_trigger(
                trigger_id, "superseded", {"superseded_by": newer}, event_time
            )
        elif event_time > observed_at:
            stored = tx.triggers.finish_trigger(
                trigger_id,
                "premature",
                _premature(trigger, event_time, observed_at),
                event_time,
            )
        else:
            known_since = min(observed_at, subject_first or observed_at)
            report = Report(
                trigger_id,
                trigger,
                values,
                data,
                observed_at,
                event_time,
                known_since,
                partner_scope,
                caller.livemode,
                Actor("provider", caller.provider_id)
                if caller.provider_id
                else Actor("partner", caller.partner_id),
            )
            result = Settlement(ctx, tx, report, now, held).run()
            stored = tx.triggers.finish_trigger(
                trigger_id, "processed", result.to_json(), event_time
            )
        return stored, True


def _premature(trigger: TriggerType, event_time: datetime, observed_at: datetime) -> dict[str, Any]:
    return {
        "premature": True,
        "event_time": event_time.isoformat(),
        "reason": (
            f"the {trigger.name} report was observed at {observed_at.isoformat()}, before the "
            f"loss it reports can have happened ({event_time.isoformat()}: "
            f"{trigger.event_time.source}); it is kept and changes nothing, a later report "
            "applies as usual"
        ),
    }


def get_trigger(uow: UnitOfWork, caller: Caller, trigger_id: str) -> sa.Row[Any] | None:
    """A trigger event the caller posted, or None."""
    with uow.read() as tx:
        row = tx.triggers.get_trigger(trigger_id)
    source = caller.provider_id or caller.partner_id
    if row is None or row.source_id != source or row.livemode != caller.livemode:
        return None
    return row


def index_policies(ctx: ClaimsContext, limit: int = 1000) -> int:
    """Store the trigger keys of policies issued before claims existed (or whose edition
    was not loaded then); returns how many were indexed. Safe to run at any time."""
    with ctx.uow.write() as tx:
        rows = tx.triggers.policies_without_subjects(limit)
        subjects = []
        for row in rows:
            policy = policies_repo.from_row(row)
            edition = ctx.catalog.pinned(policy.product_code, policy.edition, policy.content_hash)
            if edition is None:
                continue  # its edition is not loaded: try again once it is
            keys = policy_subject_keys(
                edition, edition.inputs.parse(policy.risk), policy.external_ref, policy.livemode
            )
            subjects += [
                {"subject_key": k, "policy_id": policy.id, "partner_id": policy.partner_id}
                for k in sorted(keys or {triggers_repo.NO_SUBJECT})
            ]
        tx.triggers.insert_subjects(subjects)
    return len({s["policy_id"] for s in subjects})
