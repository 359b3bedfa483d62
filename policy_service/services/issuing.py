"""Issuing, first half: every item of a request is validated and priced in memory, with
no write (services/issue_transaction.py then writes them all in one transaction).

A quote held by the partner is read on a lazy read (most issues read nothing); its
premium is held as quoted, eligibility is checked again at issue time. Duplicates inside
one batch (the same key, order or insured subject) fail here, before the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from policy_service.domain.errors import (
    BusinessRefusal,
    Conflict,
    InvalidRequest,
    NotFound,
    ServiceError,
)
from policy_service.domain.ids import has_prefix, new_id
from policy_service.domain.lifecycle import PolicyStatus
from policy_service.domain.money import Money
from policy_service.domain.policyholder import Policyholder, parse_policyholder
from policy_service.domain.records import Caller, Policy, Quote
from pricing.claims import policy_subject_keys
from pricing.model import Edition, Product

from .catalog import ProductCatalog
from .idempotency import Outcome, RenderError, dumps, fingerprint
from .policies import quoted_worksheet
from .quotes import check_external_ref
from .rating import edition_in_force, parse_risk, premium_of, price_risk, product_on_sale
from .unit_of_work import Tx, UnitOfWork

#: (status, JSON-able body) for an issued policy
RenderOk = Callable[[Policy], tuple[int, dict[str, Any]]]


@dataclass(frozen=True)
class Issuing:
    """What issuing needs, built once (bootstrap): the database, the products, the key of
    the policyholder ID hash, the clock, the settlement time zone and the renderers."""

    uow: UnitOfWork
    catalog: ProductCatalog
    hash_key: bytes
    clock: Callable[[], datetime]
    settlement_timezone: str
    render_ok: RenderOk
    render_error: RenderError

    def render_policy(self, policy: Policy) -> dict[str, Any]:
        """The JSON of an issued policy, as the 201 answer shows it."""
        return self.render_ok(policy)[1]


@dataclass
class Draft:
    policy: Policy
    cover_key: str | None
    #: what the cover key stands for, e.g. "external_ref" or "carrier, ... and the insured person"
    cover_label: str = ""
    #: the keys triggers find the policy by (see pricing.claims.policy_subject_keys)
    subjects: frozenset[str] = frozenset()


@dataclass
class IssueItem:
    """One policy to issue: its idempotency key (if any) and either a draft or an error."""

    index: int
    key: str | None = None
    fingerprint: str | None = None
    draft: Draft | None = None
    error: ServiceError | None = None
    #: the stored response, when this is a retry of an earlier request
    replay: Outcome | None = None


# -- preparing (no writes) ---------------------------------------------------------------


def _policyholder(product: Product, raw: Any, hash_key: bytes) -> Policyholder | None:
    if product.policyholder == "none":
        if raw is not None:
            raise InvalidRequest(f"{product.code} takes no policyholder", param="policyholder")
        return None
    if raw is None:
        if product.policyholder == "required":
            raise InvalidRequest(
                f"{product.code} needs the insured person: name, id_type, id_number",
                param="policyholder",
            )
        return None
    return parse_policyholder(raw, hash_key)


def _subject_value(value: Any) -> str:
    """One canonical text per value: the same departure sent as +08:00 or Z is one flight."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Money):
        return f"{value.amount} {value.currency}"
    return str(value)


def cover_key(
    product: Product,
    risk: dict[str, Any],
    external_ref: str,
    partner_id: str,
    holder: Policyholder | None,
) -> str | None:
    rule = product.duplicate_cover
    if rule is None:
        return None
    # external_ref is the partner's own id: it only names an order within that partner.
    values = [
        f"{partner_id}:{external_ref}" if name == "external_ref" else _subject_value(risk.get(name))
        for name in rule.subject
    ]
    if rule.per_insured:
        if holder is None:  # the loader makes per_insured imply a required policyholder
            return None
        values.append(holder.id_hash)
    return hashlib.sha256(dumps([product.code, values]).encode()).hexdigest()


_ISSUE_FIELDS = {"product", "risk", "external_ref", "policyholder", "quote", "payment_method"}


def prepare_issue(
    read: Tx,
    caller: Caller,
    catalog: ProductCatalog,
    body: dict[str, Any],
    hash_key: bytes,
    now: datetime,
    param_prefix: str = "",
) -> Draft:
    """Validate and price one issue request; raises a ServiceError naming the field.
    `read` is a lazy read: it connects only for the few requests that need it (issue from
    a quote)."""

    def p(name: str) -> str:
        return f"{param_prefix}{name}"

    unknown = set(body) - _ISSUE_FIELDS
    if unknown:
        raise InvalidRequest("is not a field of an issue request", param=p(sorted(unknown)[0]))
    quote_id = body.get("quote")
    quote = None
    if quote_id is not None:
        if "risk" in body or "product" in body:
            raise InvalidRequest(
                "give either quote, or product and risk, not both", param=p("quote")
            )
        if not has_prefix(quote_id, "qt"):
            raise InvalidRequest("must be a quote id (qt_...)", param=p("quote"))
        quote = read.quotes.get(caller.partner_id, caller.livemode, quote_id)
        if quote is None:
            raise NotFound(f"no quote {quote_id}", param=p("quote"))
        if quote.expires_at <= now:
            raise BusinessRefusal(
                f"quote {quote.id} expired at {quote.expires_at.isoformat()}; quote again",
                code="quote_expired",
                param=p("quote"),
            )
        product = product_on_sale(catalog, quote.product_code)
        edition = product.pinned(quote.edition, quote.content_hash)
        if edition is None:
            raise Conflict(
                f"the edition of quote {quote.id} is no longer on sale; quote again",
                code="quote_edition_withdrawn",
                param=p("quote"),
            )
        risk = parse_risk(edition, quote.risk, prefix=p("risk"))
    else:
        product = product_on_sale(catalog, body.get("product"), param=p("product"))
        edition = edition_in_force(product, now)
        risk = parse_risk(edition, body.get("risk"), prefix=p("risk"))
    external_ref = check_external_ref(
        body.get("external_ref", quote.external_ref if quote else None),
        required=True,
        param=p("external_ref"),
    )
    assert external_ref is not None
    if quote is not None and quote.external_ref and external_ref != quote.external_ref:
        raise InvalidRequest(
            f"the quote was made for external_ref {quote.external_ref!r}", param=p("external_ref")
        )
    holder = _policyholder(product, body.get("policyholder"), hash_key)
    # Eligibility is checked again at issue time (a flight may now be too close);
    # a quote's premium is held as quoted.
    priced = price_risk(edition, risk, now)
    assert priced.coverage_start is not None and priced.coverage_end is not None
    risk_json = edition.inputs.to_json(risk)
    policy = Policy(
        id=new_id("pol"),
        partner_id=caller.partner_id,
        livemode=caller.livemode,
        product_code=product.code,
        edition=edition.id,
        content_hash=edition.content_hash,
        quote_id=quote.id if quote else None,
        external_ref=external_ref,
        status=PolicyStatus.ACTIVE.value,
        risk=risk_json,
        policyholder=holder,
        premium=quote.premium if quote else premium_of(priced),
        worksheet=_quoted(edition, risk, quote, priced.worksheet) if quote else priced.worksheet,
        coverage_start=priced.coverage_start,
        coverage_end=priced.coverage_end,
        created_at=now,
        updated_at=now,
        priced_at=quote.created_at if quote else now,
    )
    rule = product.duplicate_cover
    label = ""
    if rule is not None:
        label = ", ".join(rule.subject) + (" and the insured person" if rule.per_insured else "")
    return Draft(
        policy,
        cover_key(product, risk, external_ref, caller.partner_id, holder),
        label,
        frozenset(policy_subject_keys(edition, risk, external_ref, caller.livemode)),
    )


def _quoted(
    edition: Edition, risk: dict[str, Any], quote: Quote, at_issue: dict[str, Any]
) -> dict[str, Any]:
    """The worksheet of a policy issued from a quote, made as every later view makes it
    (services/policies.worksheet_again): the pinned edition pricing the risk at the
    quote's time gives the quote's worksheet (in its own key order, not the stored one's)."""
    at_quote = price_risk(edition, risk, quote.created_at).worksheet
    return quoted_worksheet(quote.id, at_quote, at_issue)


def mark_batch_duplicates(items: list[IssueItem]) -> None:
    """Within one batch, a second item with the same key, order or insured subject fails."""
    seen_keys: set[str] = set()
    seen_refs: dict[tuple[str, str], int] = {}
    seen_covers: set[tuple[str, str]] = set()
    for item in items:
        if item.key is not None:
            if item.key in seen_keys:
                item.draft, item.error = (
                    None,
                    InvalidRequest(
                        "this idempotency_key appears twice in the batch",
                        param=f"items[{item.index}].idempotency_key",
                    ),
                )
                continue
            seen_keys.add(item.key)
        if item.draft is None:
            continue
        pol = item.draft.policy
        ref = (pol.product_code, pol.external_ref)
        if ref in seen_refs:
            item.draft, item.error = (
                None,
                Conflict(
                    f"external_ref {pol.external_ref!r} is already used by item {seen_refs[ref]} of this batch",
                    code="duplicate_external_ref",
                    param=f"items[{item.index}].external_ref",
                ),
            )
            continue
        seen_refs[ref] = item.index
        draft = item.draft
        if draft.cover_key is not None:
            cover = (pol.product_code, draft.cover_key)
            if cover in seen_covers:
                item.draft, item.error = None, duplicate_cover(draft)
                continue
            seen_covers.add(cover)


def duplicate_cover(draft: Draft) -> BusinessRefusal:
    # No policy id: the other cover may belong to another partner.
    return BusinessRefusal(
        f"a {draft.policy.product_code} policy with the same {draft.cover_label} is already in force",
        code="duplicate_cover",
    )


def storable(error: ServiceError) -> bool:
    """Business outcomes are remembered under the idempotency key; invalid requests are not
    (the caller fixes the request and retries with the same key), as Stripe does."""
    return isinstance(error, Conflict | BusinessRefusal)


#: a batch item's idempotency_key is the key of a single POST of that item's body
ISSUE_FINGERPRINT_PATH = "/v1/policies"


def _item(
    read: Tx,
    issuing: Issuing,
    caller: Caller,
    body: Any,
    index: int,
    key: str | None,
    prefix: str = "",
) -> IssueItem:
    fp = fingerprint("POST", ISSUE_FINGERPRINT_PATH, body) if key else None
    item = IssueItem(index, key, fp)
    try:
        if not isinstance(body, dict):
            raise InvalidRequest("must be an object", param=prefix.rstrip(".") or None)
        item.draft = prepare_issue(
            read, caller, issuing.catalog, body, issuing.hash_key, issuing.clock(), prefix
        )
    except ServiceError as err:
        item.error = err
    return item


def prepare_one(issuing: Issuing, caller: Caller, body: Any, key: str | None) -> IssueItem:
    """One issue request, validated and priced (its error, if any, is in the item)."""
    # The read is closed before the write transaction opens (SQLite has one writer).
    with issuing.uow.read() as read:
        return _item(read, issuing, caller, body, 0, key)


def prepare_batch(issuing: Issuing, caller: Caller, raw_items: list[Any]) -> list[IssueItem]:
    """The items of a batch, each with its own idempotency_key, duplicates marked."""
    items: list[IssueItem] = []
    with issuing.uow.read() as read:
        for i, raw in enumerate(raw_items):
            prefix = f"items[{i}]."
            key = None
            if isinstance(raw, dict) and "idempotency_key" in raw:
                raw = dict(raw)
                key = raw.pop("idempotency_key")
                if not isinstance(key, str) or not 1 <= len(key) <= 255:
                    err = InvalidRequest(
                        "must be 1 to 255 characters", param=f"{prefix}idempotency_key"
                    )
                    items.append(IssueItem(i, error=err))
                    continue
            items.append(_item(read, issuing, caller, raw, i, key, prefix))
    mark_batch_duplicates(items)
    return items
