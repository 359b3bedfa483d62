"""Issue, cancel and read policies.

Issuing is the hot path. Every item is validated and priced in memory first; then one
short transaction writes all of them with multi-row statements, in this order:

  1. idempotency records (the response each item will get), so a concurrent duplicate
     waits on the unique key and then replays instead of issuing twice;
  2. policies, skipping rows that hit the external_ref or quote unique keys;
  3. cover locks, so one person/flight or one order is never covered twice;
  4. outbox events for what was issued.

Items that fail in steps 2-3 get their error written over their idempotency record in
the same transaction. A single POST /v1/policies is a batch of one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from policy_service.adapters import (
    claims_repo,
    events_repo,
    idempotency_repo,
    ledger_repo,
    policies_repo,
    quotes_repo,
)
from policy_service.domain.errors import (
    BusinessRefusal,
    Conflict,
    IdempotencyError,
    InvalidRequest,
    NotFound,
    ServiceError,
)
from policy_service.domain.ids import has_prefix, new_id
from policy_service.domain.ledger import Entry, period_of, premium_entry
from policy_service.domain.lifecycle import PolicyStatus
from policy_service.domain.money import MINOR_UNITS, Money
from policy_service.domain.policyholder import Policyholder, parse_policyholder
from policy_service.domain.records import Caller, Policy, Quote
from pricing.claims import policy_subject_keys
from pricing.model import Product

from .catalog import ProductCatalog
from .quotes import check_external_ref
from .rating import edition_in_force, parse_risk, premium_of, price_risk, product_on_sale

#: (status, JSON-able body) for an issued policy, and for an error
RenderOk = Callable[[Policy], tuple[int, dict[str, Any]]]
RenderError = Callable[[ServiceError], tuple[int, dict[str, Any]]]


@dataclass
class Draft:
    policy: Policy
    cover_key: str | None
    #: what the cover key stands for, e.g. "external_ref" or "carrier, ... and the insured person"
    cover_label: str = ""
    #: the keys triggers find the policy by (see pricing.claims.policy_subject_keys)
    subjects: frozenset[str] = frozenset()


@dataclass
class Outcome:
    status: int
    body: str  # JSON text, exactly what was (or will be) replayed
    replayed: bool = False
    policy: Policy | None = field(default=None, repr=False)


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


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def dumps(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


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


def _cover_key(
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
    read: Callable[[], sa.Connection],
    caller: Caller,
    catalog: ProductCatalog,
    body: dict[str, Any],
    hash_key: bytes,
    now: datetime,
    param_prefix: str = "",
) -> Draft:
    """Validate and price one issue request; raises a ServiceError naming the field.
    `read` gives a connection for the few requests that need one (issue from a quote)."""

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
        quote = quotes_repo.get(read(), caller.partner_id, caller.livemode, quote_id)
        if quote is None:
            raise NotFound(f"no quote {quote_id}", param=p("quote"))
        if quote.expires_at <= now:
            raise BusinessRefusal(
                f"quote {quote.id} expired at {quote.expires_at.isoformat()}; quote again",
                code="quote_expired",
                param=p("quote"),
            )
        product = product_on_sale(catalog, quote.product_code)
        edition = product.edition(quote.edition)
        if edition is None or edition.content_hash != quote.content_hash:
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
        worksheet=_quoted_worksheet(quote, priced.worksheet) if quote else priced.worksheet,
        coverage_start=priced.coverage_start,
        coverage_end=priced.coverage_end,
        created_at=now,
        updated_at=now,
    )
    rule = product.duplicate_cover
    label = ""
    if rule is not None:
        label = ", ".join(rule.subject) + (" and the insured person" if rule.per_insured else "")
    return Draft(
        policy,
        _cover_key(product, risk, external_ref, caller.partner_id, holder),
        label,
        frozenset(policy_subject_keys(edition, risk, external_ref, caller.livemode)),
    )


def _quoted_worksheet(quote: Quote, at_issue: dict[str, Any]) -> dict[str, Any]:
    """The quote's worksheet explains the held premium; the cover is the one computed at issue."""
    return {**quote.worksheet, "quote": quote.id, "coverage": at_issue["coverage"]}


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
                item.draft, item.error = None, _duplicate_cover(draft)
                continue
            seen_covers.add(cover)


def _duplicate_cover(draft: Draft) -> BusinessRefusal:
    # No policy id: the other cover may belong to another partner.
    return BusinessRefusal(
        f"a {draft.policy.product_code} policy with the same {draft.cover_label} is already in force",
        code="duplicate_cover",
    )


def _storable(error: ServiceError) -> bool:
    """Business outcomes are remembered under the idempotency key; invalid requests are not
    (the caller fixes the request and retries with the same key), as Stripe does."""
    return isinstance(error, Conflict | BusinessRefusal)


# -- writing ------------------------------------------------------------------------------


@dataclass
class Envelope:
    """A batch's own Idempotency-Key: claimed in the same transaction as its items, so a
    concurrent retry waits and replays instead of racing the items."""

    key: str
    fingerprint: str
    render: Callable[[list[Outcome]], tuple[int, dict[str, Any]]]


@dataclass
class IssueResult:
    outcomes: list[Outcome]
    #: the whole batch's response when an Envelope was given
    envelope: Outcome | None = None


_ATTEMPTS = 3


def issue_many(
    engine: sa.Engine,
    caller: Caller,
    items: list[IssueItem],
    render_ok: RenderOk,
    render_error: RenderError,
    now: datetime,
    settlement_timezone: str,
    envelope: Envelope | None = None,
) -> IssueResult:
    """Write every prepared item in one transaction; one outcome per item, in order.
    The premiums go into the ledger as collected by the partner (partner-settled billing)."""
    _replay_refused_retries(engine, caller, items)
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return _issue_once(
                engine, caller, items, render_ok, render_error, now, settlement_timezone, envelope
            )
        except sa.exc.OperationalError as exc:
            # Two batches locking the same unique keys in different orders: PostgreSQL
            # aborts one; nothing was committed, so run it again.
            if attempt == _ATTEMPTS or getattr(exc.orig, "sqlstate", None) not in (
                "40P01",
                "40001",
            ):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _replay_refused_retries(engine: sa.Engine, caller: Caller, items: list[IssueItem]) -> None:
    """A retry whose request would now be refused as invalid (the product changed since)
    still gets the stored response of its first attempt."""
    refused = [i for i in items if i.key and i.error is not None and not _storable(i.error)]
    if not refused:
        return
    with engine.connect() as conn:
        stored = idempotency_repo.fetch_many(
            conn, caller.partner_id, caller.livemode, [i.key for i in refused if i.key]
        )
    for item in refused:
        record = stored.get(item.key or "")
        if record is not None and record.fingerprint == item.fingerprint:
            item.error, item.replay = None, Outcome(record.status_code, record.body, replayed=True)


class _EnvelopeTaken(Exception):
    pass


def _issue_once(
    engine: sa.Engine,
    caller: Caller,
    items: list[IssueItem],
    render_ok: RenderOk,
    render_error: RenderError,
    now: datetime,
    settlement_timezone: str,
    envelope: Envelope | None,
) -> IssueResult:
    outcomes: dict[int, Outcome] = {}
    to_claim: list[IssueItem] = []
    for item in items:
        if item.replay is not None:
            outcomes[item.index] = item.replay
            continue
        if item.draft is None:
            assert item.error is not None
            if item.key is None or not _storable(item.error):
                status, body = render_error(item.error)
                outcomes[item.index] = Outcome(status, dumps(body))
                continue
        if item.key is not None:
            to_claim.append(item)
        else:
            outcomes[item.index] = _provisional(item, render_ok, render_error)
    replays: list[IssueItem] = []
    try:
        with engine.begin() as conn:
            if envelope is not None and not idempotency_repo.claim_many(
                conn,
                caller.partner_id,
                caller.livemode,
                [(envelope.key, envelope.fingerprint, 202, "")],
                now,
            ):
                raise _EnvelopeTaken
            if to_claim:
                provisional = {i.index: _provisional(i, render_ok, render_error) for i in to_claim}
                to_claim.sort(key=lambda i: i.key or "")  # one lock order for concurrent batches
                claimed = idempotency_repo.claim_many(
                    conn,
                    caller.partner_id,
                    caller.livemode,
                    [
                        (
                            i.key,
                            i.fingerprint,
                            provisional[i.index].status,
                            provisional[i.index].body,
                        )
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
            failed = _insert_policies(conn, caller, drafts, now)
            for item in drafts:
                err = failed.get(item.index)
                if err is None:
                    continue
                status, body = render_error(err)
                outcomes[item.index] = Outcome(status, dumps(body))
                if item.key is not None:
                    idempotency_repo.update_response(
                        conn, caller.partner_id, caller.livemode, item.key, status, dumps(body)
                    )
            issued = [
                i.draft.policy for i in drafts if i.index not in failed and i.draft is not None
            ]
            events_repo.insert_many(
                conn,
                [
                    _event("policy.issued", item.draft.policy, outcomes[item.index].body)
                    for item in drafts
                    if item.index not in failed and item.draft is not None
                ],
            )
            period = period_of(now, settlement_timezone)
            ledger_repo.insert_entries(
                conn,
                [
                    (p.partner_id, p.id, p.livemode, "partner", _premium_entry(p), now, period)
                    for p in issued
                ],
            )
            if replays:
                # Read inside the transaction: the rows we waited on are committed by now.
                _replay(conn, caller, replays, outcomes, render_error)
            result = IssueResult([outcomes[item.index] for item in items])
            if envelope is not None:
                status, body = envelope.render(result.outcomes)
                result.envelope = Outcome(status, dumps(body))
                idempotency_repo.update_response(
                    conn,
                    caller.partner_id,
                    caller.livemode,
                    envelope.key,
                    status,
                    result.envelope.body,
                )
            return result
    except _EnvelopeTaken:
        assert envelope is not None
        with engine.connect() as conn:
            record = idempotency_repo.fetch_many(
                conn,
                caller.partner_id,
                caller.livemode,
                [envelope.key],
            )[envelope.key]
        return IssueResult([], replay_stored(record, envelope.fingerprint))


def _premium_entry(policy: Policy) -> Entry:
    return premium_entry(policy.premium, MINOR_UNITS[policy.premium.currency])


def _provisional(item: IssueItem, render_ok: RenderOk, render_error: RenderError) -> Outcome:
    if item.draft is not None:
        status, body = render_ok(item.draft.policy)
        return Outcome(status, dumps(body), policy=item.draft.policy)
    assert item.error is not None
    status, body = render_error(item.error)
    return Outcome(status, dumps(body))


def _insert_policies(
    conn: sa.Connection, caller: Caller, items: list[IssueItem], now: datetime
) -> dict[int, ServiceError]:
    """Insert the drafts' policies and cover locks; returns the errors of those refused."""
    failed: dict[int, ServiceError] = {}
    drafts = [(item.index, item.draft) for item in items if item.draft is not None]
    if not drafts:
        return failed
    # One lock order (product, external_ref) for concurrent batches.
    ordered = sorted(drafts, key=lambda d: (d[1].policy.product_code, d[1].policy.external_ref))
    inserted = policies_repo.insert_new(conn, [d.policy for _, d in ordered])
    for index, draft in drafts:
        if draft.policy.id not in inserted:
            failed[index] = _unique_conflict(conn, caller, draft.policy)
    locks = sorted(
        (d.policy.product_code, d.cover_key, d.policy.id)
        for index, d in drafts
        if index not in failed and d.cover_key
    )
    got = policies_repo.lock_covers(conn, caller.livemode, locks, now)
    lost = [pid for (_, _, pid) in locks if pid not in got]
    if lost:
        policies_repo.delete(conn, lost)
        for index, draft in drafts:
            if draft.policy.id in lost:
                failed[index] = _duplicate_cover(draft)
    claims_repo.insert_subjects(
        conn,
        [
            {"subject_key": key, "policy_id": d.policy.id}
            for index, d in drafts
            if index not in failed
            for key in sorted(d.subjects)
        ],
    )
    return failed


def _unique_conflict(conn: sa.Connection, caller: Caller, pol: Policy) -> ServiceError:
    if pol.quote_id is not None:
        used_by = quotes_repo.policy_for_quote(conn, pol.quote_id)
        if used_by is not None:
            return Conflict(
                f"quote {pol.quote_id} was already used by policy {used_by}",
                code="quote_already_used",
                param="quote",
                details={"policy": used_by},
            )
    existing = policies_repo.ids_by_external_ref(
        conn, caller.partner_id, caller.livemode, pol.product_code, [pol.external_ref]
    ).get(pol.external_ref)
    return Conflict(
        f"a {pol.product_code} policy for external_ref {pol.external_ref!r} already exists: {existing}",
        code="duplicate_external_ref",
        param="external_ref",
        details={"policy": existing},
    )


def _replay(
    conn: sa.Connection,
    caller: Caller,
    items: list[IssueItem],
    outcomes: dict[int, Outcome],
    render_error: RenderError,
) -> None:
    stored = idempotency_repo.fetch_many(
        conn, caller.partner_id, caller.livemode, [i.key for i in items if i.key]
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
            status, body = render_error(err)
            outcomes[item.index] = Outcome(status, dumps(body))


def replay_stored(record: idempotency_repo.StoredResponse, fp: str | None) -> Outcome:
    if record.fingerprint != fp:
        raise IdempotencyError(
            "this Idempotency-Key was already used with a different request; "
            "use a new key for a new request",
        )
    return Outcome(record.status_code, record.body, replayed=True)


def _event(event_type: str, policy: Policy, body_json: str) -> events_repo.NewEvent:
    return events_repo.NewEvent(
        id=new_id("evt"),
        partner_id=policy.partner_id,
        livemode=policy.livemode,
        type=event_type,
        object_type="policy",
        object_id=policy.id,
        data=json.loads(body_json),
        created_at=policy.updated_at,
    )


# -- reading ------------------------------------------------------------------------------


def get_policy(
    conn: sa.Connection, caller: Caller, policy_id: str, for_update: bool = False
) -> Policy:
    policy = None
    if has_prefix(policy_id, "pol"):
        policy = policies_repo.get(conn, caller.partner_id, caller.livemode, policy_id, for_update)
    if policy is None:
        # Another partner's policy, or the other mode's, is as missing as one that never was.
        raise NotFound(f"no policy {policy_id}")
    return policy


def list_policies(
    conn: sa.Connection,
    caller: Caller,
    limit: int,
    starting_after: str | None,
    external_ref: str | None,
    status: str | None,
    product: str | None,
) -> tuple[list[Policy], bool]:
    return policies_repo.list_page(
        conn,
        caller.partner_id,
        caller.livemode,
        limit,
        starting_after,
        external_ref,
        status,
        product,
    )
