"""What staff review: the queue of claims waiting for a person, and everything about one
claim needed to decide it. The ops console and the /v1/ops API both read through here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from policy_service.domain.claims import SIGNAL_CODES, Claim, ClaimStatus
from policy_service.domain.errors import InvalidRequest, NotFound
from policy_service.domain.ids import has_prefix
from policy_service.domain.money import MINOR_UNITS, MoneyError, from_minor, parse_amount
from policy_service.domain.records import Policy
from pricing.model import Edition

from . import query_args
from .claim_queries import audit_log
from .claims import ClaimsContext
from .policies import completed
from .unit_of_work import UnitOfWork

#: claims read per queue request; beyond it the counts say "at least"
QUEUE_SCAN_LIMIT = 10_000


@dataclass(frozen=True)
class QueueFilter:
    status: str = "in_review"
    product: str | None = None
    partner: str | None = None
    signal: str | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    #: True: live claims only, False: test only, None: both
    livemode: bool | None = None

    @classmethod
    def parse(cls, args: Mapping[str, str]) -> QueueFilter:
        """From query-string text (the console's filter form); empty means no filter."""

        def amount(name: str) -> Decimal | None:
            raw = query_args.text(args, name)
            if raw is None:
                return None
            try:
                value = parse_amount(raw)
            except MoneyError as exc:
                raise InvalidRequest(str(exc), param=name) from None
            if value < 0:
                raise InvalidRequest("must not be negative", param=name)
            return value

        found = cls(
            status=query_args.one_of(args, "status", ClaimStatus) or "in_review",
            product=query_args.text(args, "product"),
            partner=query_args.text(args, "partner"),
            signal=query_args.one_of(args, "signal", SIGNAL_CODES),
            amount_min=amount("amount_min"),
            amount_max=amount("amount_max"),
            livemode=query_args.livemode(args),
        )
        if (
            found.amount_min is not None
            and found.amount_max is not None
            and found.amount_min > found.amount_max
        ):
            raise InvalidRequest("must not be more than amount_max", param="amount_min")
        return found


@dataclass(frozen=True)
class QueueItem:
    id: str
    partner_id: str
    partner_name: str
    livemode: bool
    policy_id: str
    product: str
    edition: str
    origin: str
    type: str
    status: str
    currency: str
    amount_claimed: Decimal | None
    signals: list[dict[str, str]]
    first_approval: dict[str, Any] | None
    info_requested_at: datetime | None
    created_at: datetime


@dataclass
class Queue:
    items: list[QueueItem]
    #: claims matching the filter (at least this many when `capped`)
    total: int
    capped: bool
    more: bool
    #: counts per value of each filter, under the other filters
    by_product: Counter[str] = field(default_factory=Counter)
    by_partner: Counter[str] = field(default_factory=Counter)
    by_signal: Counter[str] = field(default_factory=Counter)
    #: every partner's name by id (the filter's choices)
    partner_names: dict[str, str] = field(default_factory=dict)


def _bounds(value: Decimal | None, rounding: str) -> dict[str, int] | None:
    """A bound in each currency's minor units, rounded inwards (`rounding` ROUND_CEILING
    for a lower bound, ROUND_FLOOR for an upper one), so 100.004 excludes 100.00."""
    if value is None:
        return None
    return {
        cur: int((value * 10**exp).to_integral_value(rounding=rounding))
        for cur, exp in MINOR_UNITS.items()
    }


def queue_claims(
    uow: UnitOfWork, f: QueueFilter, limit: int = 50, starting_after: str | None = None
) -> tuple[list[Claim], bool]:
    """The queue's page as whole claims (the ops API), and whether more follow."""
    found = queue(uow, f, limit, starting_after)
    with uow.read() as tx:
        return tx.claims.get_many([item.id for item in found.items]), found.more


def queue(
    uow: UnitOfWork, f: QueueFilter, limit: int = 50, starting_after: str | None = None
) -> Queue:
    """Claims in a status (default in review), oldest first, filtered, with counts; the
    page after the claim `starting_after` (a keyset cursor: it holds even when that claim
    has left the queue meanwhile)."""
    sql_filters: dict[str, Any] = {
        "status": f.status,
        "livemode": f.livemode,
        "amount_min": _bounds(f.amount_min, ROUND_CEILING),
        "amount_max": _bounds(f.amount_max, ROUND_FLOOR),
    }
    with uow.read() as tx:
        rows = tx.claims.queue_scan(QUEUE_SCAN_LIMIT, **sql_filters)
        after = None
        if starting_after:
            cursor = tx.claims.get(starting_after) if has_prefix(starting_after, "clm") else None
            if cursor is None:
                raise NotFound(f"no claim {starting_after}", param="starting_after")
            after = (cursor.created_at, cursor.id)
            ids = [r.id for r in rows]
            if len(rows) < QUEUE_SCAN_LIMIT and cursor.id in ids:
                later = rows[ids.index(cursor.id) + 1 :]  # the scan already holds them
            else:  # the cursor has left the queue, or lies past the scan
                later = tx.claims.queue_scan(QUEUE_SCAN_LIMIT, after=after, **sql_filters)
        names = tx.partners.partner_names()

    def codes(row: Any) -> set[str]:
        return {s["code"] for s in row.signals or []}

    def keep(row: Any, skip: str = "") -> bool:
        return (
            (skip == "product" or f.product is None or row.product_code == f.product)
            and (skip == "partner" or f.partner is None or row.partner_id == f.partner)
            and (skip == "signal" or f.signal is None or f.signal in codes(row))
        )

    capped = len(rows) >= QUEUE_SCAN_LIMIT
    result = Queue([], 0, capped, False, partner_names=names)
    matching = []
    for row in rows:
        if keep(row, "product"):
            result.by_product[row.product_code] += 1
        if keep(row, "partner"):
            result.by_partner[row.partner_id] += 1
        if keep(row, "signal"):
            result.by_signal.update(codes(row))
        if keep(row):
            matching.append(row)
    result.total = len(matching)
    if after is not None:
        capped = len(later) >= QUEUE_SCAN_LIMIT
        matching = [r for r in later if keep(r)]
    page = matching[:limit]
    result.more = len(matching) > limit or capped
    result.items = [
        QueueItem(
            id=r.id,
            partner_id=r.partner_id,
            partner_name=names.get(r.partner_id, r.partner_id),
            livemode=r.livemode,
            policy_id=r.policy_id,
            product=r.product_code,
            edition=r.edition_id.split("/", 1)[1],
            origin=r.origin,
            type=r.type,
            status=r.status,
            currency=r.currency,
            amount_claimed=None
            if r.amount_claimed is None
            else from_minor(r.amount_claimed, r.currency),
            signals=list(r.signals or []),
            first_approval=r.first_approval,
            info_requested_at=r.info_requested_at,
            created_at=r.created_at,
        )
        for r in page
    ]
    return result


@dataclass
class ReviewDetail:
    claim: Claim
    partner_name: str
    policy: Policy
    edition: Edition | None
    #: the claim's payouts, first one first (a top-up adds one)
    payouts: list[Any]
    attachments: list[Any]
    audit: list[Any]
    #: other claims of the same policyholder or evidence
    related: list[Claim]
    #: the trigger event that decided the claim, as posted
    trigger: Any
    second_approval_above: Decimal


def review_detail(ctx: ClaimsContext, claim_id: str) -> ReviewDetail:
    """Everything a reviewer needs to decide a claim."""
    with ctx.uow.read() as tx:
        claim = tx.claims.get(claim_id) if has_prefix(claim_id, "clm") else None
        if claim is None:
            raise NotFound(f"no claim {claim_id}")
        policy = tx.policies.get(claim.partner_id, claim.livemode, claim.policy_id)
        assert policy is not None  # a foreign key
        partner = tx.partners.get_partner(claim.partner_id)
        return ReviewDetail(
            claim=claim,
            partner_name=partner.name if partner else claim.partner_id,
            policy=completed(ctx.catalog, policy),
            edition=ctx.catalog.edition(policy.product_code, policy.edition),
            payouts=tx.claims.payouts_of(claim.id),
            attachments=tx.claims.attachments_of(claim.id),
            audit=audit_log(tx, claim.id),
            related=tx.claims.related(claim),
            trigger=(
                tx.triggers.get_trigger(claim.trigger_event_id) if claim.trigger_event_id else None
            ),
            second_approval_above=ctx.second_approval_above,
        )
