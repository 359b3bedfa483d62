"""Ops policy search across partners, and one policy with its claims, events and webhook
deliveries (what a partner's support desk asks ops about)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from policy_service.domain.claims import Claim
from policy_service.domain.errors import InvalidRequest, NotFound
from policy_service.domain.lifecycle import PolicyStatus
from policy_service.domain.policyholder import HolderMatch, holder_match
from policy_service.domain.records import Endorsement, Policy
from pricing.model import Edition

from . import query_args
from .catalog import ProductCatalog
from .policies import completed
from .unit_of_work import UnitOfWork


@dataclass(frozen=True)
class PolicyQuery:
    policy_id: str | None = None
    external_ref: str | None = None
    partner: str | None = None
    status: str | None = None
    product: str | None = None
    livemode: bool | None = None
    #: issue dates, inclusive, in the settlement time zone
    date_from: date | None = None
    date_to: date | None = None
    #: a person: ID number (through its keyed hash), phone, name
    holder: HolderMatch | None = None

    @classmethod
    def parse(cls, args: Mapping[str, str], hash_key: bytes) -> PolicyQuery:
        def day(name: str) -> date | None:
            raw = query_args.text(args, name)
            if raw is None:
                return None
            try:
                found = date.fromisoformat(raw)
            except ValueError:
                raise InvalidRequest("must be a date: YYYY-MM-DD", param=name) from None
            if not 1900 <= found.year <= 9998:
                raise InvalidRequest("must be a date between 1900 and 9998", param=name)
            return found

        query = cls(
            policy_id=query_args.text(args, "id"),
            external_ref=query_args.text(args, "external_ref"),
            partner=query_args.text(args, "partner"),
            status=query_args.one_of(args, "status", PolicyStatus),
            product=query_args.text(args, "product"),
            livemode=query_args.livemode(args),
            date_from=day("date_from"),
            date_to=day("date_to"),
            holder=holder_match(
                hash_key,
                query_args.text(args, "policyholder_id_number"),
                query_args.text(args, "policyholder_id_type"),
                query_args.text(args, "policyholder_phone"),
                query_args.text(args, "policyholder_name"),
            ),
        )
        if query.date_from and query.date_to and query.date_from > query.date_to:
            raise InvalidRequest("must not be after date_to", param="date_from")
        return query


@dataclass
class PolicyPage:
    policies: list[Policy]
    more: bool


def search(
    uow: UnitOfWork,
    q: PolicyQuery,
    tz: str,
    limit: int = 50,
    starting_after: str | None = None,
) -> PolicyPage:
    zone = ZoneInfo(tz)

    def start_of(d: date | None) -> datetime | None:
        return None if d is None else datetime.combine(d, time.min, zone)

    with uow.read() as tx:
        found, more = tx.policies.search(
            limit,
            starting_after,
            policy_id=q.policy_id,
            external_ref=q.external_ref,
            partner_id=q.partner,
            status=q.status,
            product=q.product,
            livemode=q.livemode,
            created_from=start_of(q.date_from),
            created_before=start_of(q.date_to + timedelta(days=1) if q.date_to else None),
            holder=q.holder,
        )
    return PolicyPage(found, more)


@dataclass
class Delivery:
    row: Any
    attempts: list[Any]


@dataclass
class PolicyView:
    policy: Policy
    partner_name: str
    edition: Edition | None
    claims: list[Claim]
    #: events about the policy and its claims, oldest first, each with its deliveries
    events: list[tuple[Any, list[Delivery]]]
    #: its changes after issue, oldest first
    endorsements: list[Endorsement] = field(default_factory=list)


def policy_view(uow: UnitOfWork, catalog: ProductCatalog, policy_id: str) -> PolicyView:
    with uow.read() as tx:
        policy = tx.policies.get(None, None, policy_id)
        if policy is None:
            raise NotFound(f"no policy {policy_id}")
        claims, _ = tx.claims.list_page(100, policy_id=policy.id)
        events = tx.events.of_objects([policy.id, *(c.id for c in claims)])
        deliveries = tx.webhooks.deliveries_of_events([e.id for e in events])
        attempts = tx.webhooks.attempts_of([d.id for ds in deliveries.values() for d in ds])
        timeline = [
            (event, [Delivery(d, attempts[d.id]) for d in deliveries[event.id]]) for event in events
        ]
        partner = tx.partners.get_partner(policy.partner_id)
        changes = tx.endorsements.of_policy(policy.id) if policy.version > 1 else []
    return PolicyView(
        policy=completed(catalog, policy),
        partner_name=partner.name if partner else policy.partner_id,
        edition=catalog.edition(policy.product_code, policy.edition),
        claims=claims,
        events=timeline,
        endorsements=changes,
    )
