"""Incidents: the trigger reports about one flight, order or parcel, and what they did to
every policy they concern. Partners list the reports that touched their policies (or that
they posted, in test mode); ops staff see one report with every policy it matched, each
policy's claim and payout, and the totals."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from policy_service.adapters import policies_repo
from policy_service.domain.claims import Claim
from policy_service.domain.errors import InvalidRequest, NotFound
from policy_service.domain.ids import has_prefix
from policy_service.domain.records import Caller, Policy
from pricing.claims import trigger_subject_keys
from pricing.errors import InputErrors

from .catalog import ProductCatalog
from .unit_of_work import UnitOfWork


@dataclass(frozen=True)
class TriggerQuery:
    """What a list of trigger events is filtered by."""

    type: str | None = None
    status: str | None = None
    #: observed dates, inclusive, in the settlement time zone
    observed_from: date | None = None
    observed_to: date | None = None
    #: fields of the fact, each equal to its text, e.g. {"flight_number": "MU5101"}
    subject: dict[str, str] = field(default_factory=dict)


def parse_subject(values: list[str]) -> dict[str, str]:
    """`subject=NAME:VALUE` parameters (repeatable) as {NAME: VALUE}."""
    out = {}
    for i, value in enumerate(values):
        name, sep, text = value.partition(":")
        if not sep or not name.strip() or not text:
            raise InvalidRequest(
                "must be NAME:VALUE, e.g. flight_number:MU5101", param=f"subject.{i}"
            )
        out[name.strip()] = text
    return out


def list_trigger_events(
    uow: UnitOfWork,
    caller: Caller | None,
    query: TriggerQuery,
    tz: str,
    limit: int,
    starting_after: str | None,
    livemode: bool | None = None,
) -> tuple[list[sa.Row[Any]], bool]:
    """A data provider's reports; a partner's own (test mode) and those that decided a claim
    on its policies; newest first. Without a caller (ops staff): every report, of
    `livemode` (None: both modes)."""
    zone = ZoneInfo(tz)
    for name, day in (("observed_from", query.observed_from), ("observed_to", query.observed_to)):
        if day is not None and not 1900 <= day.year <= 9998:  # 0001-01-01 overflows UTC
            raise InvalidRequest("must be a date between 1900 and 9998", param=name)

    def start(d: date | None) -> datetime | None:
        return None if d is None else datetime.combine(d, time.min, zone)

    source = None if caller is None else caller.provider_id or caller.partner_id
    partner = None if caller is None or caller.provider_id else caller.partner_id
    with uow.read() as tx:
        return tx.triggers.list_page(
            limit,
            starting_after,
            livemode=caller.livemode if caller is not None else livemode,
            source_id=source,
            claims_of_partner=partner,
            trigger_type=query.type,
            status=query.status,
            observed_from=start(query.observed_from),
            observed_before=start(
                query.observed_to + timedelta(days=1) if query.observed_to else None
            ),
            subject=query.subject,
        )


@dataclass
class Matched:
    """A policy a report concerns, with its claims on that report's subject."""

    policy: Policy
    claims: list[Claim]


@dataclass
class Incident:
    report: sa.Row[Any]
    #: every report about the same subject (the flight, the order), newest first
    reports: list[sa.Row[Any]]
    matched: list[Matched]
    #: claims by status, and what was paid, per currency (major units)
    claims_by_status: dict[str, int]
    paid: dict[str, Decimal]


def incident(uow: UnitOfWork, catalog: ProductCatalog, trigger_id: str) -> Incident:
    """One report, with every report on its subject and every policy it matched (whatever
    their status now), each with the claims its subject's reports decided."""
    with uow.read() as tx:
        row = tx.triggers.get_trigger(trigger_id) if has_prefix(trigger_id, "trg") else None
        if row is None:
            raise NotFound(f"no trigger event {trigger_id}")
        reports, _ = tx.triggers.list_page(
            100, None, livemode=row.livemode, subject_key=row.subject_key
        )
        keys = _subject_keys(catalog, row)
        found = [
            policies_repo.from_row(r)
            for r in tx.triggers.policies_under(keys)
            if r.livemode == row.livemode
        ]
        on_subject = {r.id for r in reports}
        matched = [
            Matched(p, [c for c in tx.claims.of_policy(p.id) if c.trigger_event_id in on_subject])
            for p in found
        ]
    statuses: Counter[str] = Counter()
    paid: dict[str, Decimal] = {}
    for m in matched:
        for c in m.claims:
            statuses[c.status] += 1
            if c.amount_paid:
                paid[c.currency] = paid.get(c.currency, Decimal(0)) + c.amount_paid
    return Incident(row, reports, matched, dict(statuses), paid)


def _subject_keys(catalog: ProductCatalog, row: sa.Row[Any]) -> set[str]:
    trigger = catalog.trigger_type(row.type)
    if trigger is None:
        return set()
    try:
        values = trigger.fields.parse(row.data)
    except InputErrors:
        return set()
    editions = [
        e
        for product in catalog.all_loaded()
        for e in product.editions
        if any(r.trigger == row.type for r in e.claims)
    ]
    return trigger_subject_keys(editions, row.type, row.livemode, values)
