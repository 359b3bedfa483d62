"""Claims: created from triggers or filed by partners, decided by rules or by people, paid.

Every change goes through `transition`, which checks the transition table and records the
audit row and the event; the caller writes the claim back only if nobody changed it
meanwhile, all in its transaction. Approval settles the payout: partner-settled policies
get a payout line on the partner's statement at once (the platform pays its buyer);
stripe-billed ones a payout the worker sends through the payment API. A later report that
reaches a higher tier tops a paying claim up with a further payout of the difference.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from policy_service.adapters import events_repo
from policy_service.adapters.sql import to_minor
from policy_service.config import Config
from policy_service.domain.claims import (
    OPEN_STATUSES,
    REJECT_CODES,
    Claim,
    ClaimStatus,
    Signal,
    SignalFacts,
    claim_transition,
    general_signals,
)
from policy_service.domain.errors import (
    BusinessRefusal,
    Conflict,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
)
from policy_service.domain.ids import has_prefix, new_id
from policy_service.domain.ledger import payout_entry, period_of
from policy_service.domain.money import MINOR_UNITS
from policy_service.domain.records import Caller, Policy
from pricing.claims import PolicyFacts, benefit, benefit_cap
from pricing.claims import decide as decide_rules
from pricing.model import Edition
from pricing.money import MoneyError, parse_amount
from pricing.triggers import TRIGGER_TYPES

from .catalog import ProductCatalog
from .unit_of_work import Tx, UnitOfWork

log = logging.getLogger(__name__)

RenderClaim = Callable[[Claim], dict[str, Any]]
RenderPolicy = Callable[[Policy], dict[str, Any]]
#: longest free text (descriptions, reasons) kept
_TEXT_LIMIT = 2000


@dataclass(frozen=True)
class Actor:
    """Who acts on a claim: the system, a partner, a data provider or a staff member."""

    type: str  # system | partner | provider | staff
    id: str | None = None
    role: str | None = None  # staff: reviewer | approver | admin
    label: str | None = None  # staff: e-mail, for the audit log

    @property
    def name(self) -> str:
        return self.label or self.id or self.type


SYSTEM = Actor("system")


@dataclass
class ClaimsContext:
    uow: UnitOfWork
    catalog: ProductCatalog
    render: RenderClaim
    settlement_timezone: str
    second_approval_above: Decimal
    attachments_dir: Path
    attachment_max_bytes: int
    #: a policy as its events carry it (a trigger that voids a policy writes one)
    render_policy: RenderPolicy


def claims_context(
    config: Config,
    uow: UnitOfWork,
    catalog: ProductCatalog,
    render: RenderClaim,
    render_policy: RenderPolicy,
) -> ClaimsContext:
    return ClaimsContext(
        uow,
        catalog,
        render,
        config.settlement_timezone,
        config.second_approval_above,
        config.attachments_dir or config.data_dir / "attachments",
        config.attachment_max_bytes,
        render_policy,
    )


@dataclass
class Changes:
    """What one transaction writes besides the claims themselves."""

    audit: list[dict[str, Any]]
    events: list[events_repo.NewEvent]
    payouts: list[dict[str, Any]]
    ledger: list[tuple[Any, ...]]
    #: (claim id, payout id) of each ledger entry that books a payout
    ledger_payouts: list[tuple[str, str]]

    @classmethod
    def empty(cls) -> Changes:
        return cls([], [], [], [], [])

    def write(self, tx: Tx) -> None:
        tx.claims.audit(self.audit)
        tx.claims.insert_payouts(self.payouts)
        tx.ledger.insert_entries(self.ledger, self.ledger_payouts)
        tx.events.insert_many(self.events)


# -- building blocks -------------------------------------------------------------------


def audit_row(
    claim: Claim,
    actor: Actor,
    action: str,
    now: datetime,
    before: Claim | None,
    reason: str | None = None,
    changed: tuple[str, ...] = (),
) -> dict[str, Any]:
    def fields(c: Claim | None) -> dict[str, Any] | None:
        if c is None or not changed:
            return None
        return {name: _plain(getattr(c, name)) for name in changed}

    return {
        "claim_id": claim.id,
        "at": now,
        "actor_type": actor.type,
        "actor_id": actor.label or actor.id,
        "action": action,
        "from_status": before.status if before else None,
        "to_status": claim.status,
        "reason": reason[:_TEXT_LIMIT] if reason else None,
        "before": fields(before),
        "after": fields(claim),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def claim_event(event_type: str, claim: Claim, render: RenderClaim) -> events_repo.NewEvent:
    return events_repo.NewEvent(
        id=new_id("evt"),
        partner_id=claim.partner_id,
        livemode=claim.livemode,
        type=event_type,
        object_type="claim",
        object_id=claim.id,
        data=json.loads(json.dumps(render(claim))),
        created_at=claim.updated_at,
    )


_EVENT_OF_STATUS = {
    ClaimStatus.APPROVED.value: "claim.approved",
    ClaimStatus.REJECTED.value: "claim.rejected",
    ClaimStatus.PAID.value: "claim.paid",
    ClaimStatus.PAYOUT_FAILED.value: "claim.payout_failed",
}


def transition(
    ctx: ClaimsContext,
    changes: Changes,
    claim: Claim,
    action: str,
    actor: Actor,
    now: datetime,
    reason: str | None = None,
    **values: Any,
) -> Claim:
    """The claim after `action` (checked against the transition table), with its audit row
    and, for a new status, its event."""
    status = claim_transition(claim.status, action).value
    after = replace(claim, status=status, updated_at=now, **values)
    changed = tuple(sorted({"status", *values} - {"corrections"}))
    changes.audit.append(audit_row(after, actor, action, now, claim, reason, changed))
    if status != claim.status and status in _EVENT_OF_STATUS:
        changes.events.append(claim_event(_EVENT_OF_STATUS[status], after, ctx.render))
    return after


def _payout(
    changes: Changes,
    claim: Claim,
    amount: Decimal,
    paid_before: Decimal,
    sequence: int,
    stripe: bool,
    now: datetime,
) -> str:
    """A payout row of `amount` on top of `paid_before`; the database refuses a payout that
    does not start where one of the claim's payouts ended, or a second one from there."""
    payout_id = new_id("cpo")
    before = to_minor(paid_before, claim.currency)
    changes.payouts.append(
        {
            "id": payout_id,
            "claim_id": claim.id,
            "sequence": sequence,
            "paid_before": before if sequence > 1 else None,
            "paid_after": before + to_minor(amount, claim.currency),
            "cap": None
            if claim.benefit_cap is None
            else to_minor(claim.benefit_cap, claim.currency),
            "partner_id": claim.partner_id,
            "livemode": claim.livemode,
            "policy_id": claim.policy_id,
            "amount": to_minor(amount, claim.currency),
            "currency": claim.currency,
            "method": "stripe" if stripe else "statement",
            "status": "pending" if stripe else "succeeded",
            "created_at": now,
            "updated_at": now,
        }
    )
    return payout_id


def settle(
    ctx: ClaimsContext, changes: Changes, claim: Claim, policy: Policy, now: datetime
) -> Claim:
    """Pay an approved claim: a statement line now (partner-settled), or a payout for the
    worker to send (stripe)."""
    assert claim.amount_approved is not None
    stripe = policy.payment_intent is not None
    payout_id = _payout(changes, claim, claim.amount_approved, Decimal(0), 1, stripe, now)
    if stripe:
        return claim
    book_payout(
        changes, claim, payout_id, claim.amount_approved, "partner", now, ctx.settlement_timezone
    )
    return transition(
        ctx,
        changes,
        claim,
        "pay",
        SYSTEM,
        now,
        "paid by the partner to its buyer; on the partner's statement",
        amount_paid=claim.amount_approved,
        paid_at=now,
    )


def top_up(
    ctx: ClaimsContext,
    changes: Changes,
    claim: Claim,
    policy: Policy,
    total: Decimal,
    sequence: int,
    now: datetime,
    reason: str,
    **values: Any,
) -> Claim:
    """Raise a paying claim to `total` and pay the difference as payout number `sequence`:
    a statement line now (partner-settled) or a payout for the worker (stripe)."""
    paid_before = claim.amount_approved
    assert paid_before is not None and total > paid_before
    if claim.benefit_cap is not None:
        total = min(total, claim.benefit_cap)
    stripe = policy.payment_intent is not None
    payout_id = _payout(changes, claim, total - paid_before, paid_before, sequence, stripe, now)
    if stripe:
        after = transition(
            ctx,
            changes,
            claim,
            "top_up_pending",
            SYSTEM,
            now,
            reason,
            amount_approved=total,
            **values,
        )
    else:
        book_payout(
            changes, claim, payout_id, total - paid_before, "partner", now, ctx.settlement_timezone
        )
        after = transition(
            ctx,
            changes,
            claim,
            "top_up",
            SYSTEM,
            now,
            reason,
            amount_approved=total,
            amount_paid=total,
            paid_at=now,
            **values,
        )
    changes.events.append(claim_event("claim.topped_up", after, ctx.render))
    return after


def book_payout(
    changes: Changes,
    claim: Claim,
    payout_id: str,
    amount: Decimal,
    collected_by: str,
    now: datetime,
    timezone: str,
) -> None:
    entry = payout_entry(claim.currency, amount, MINOR_UNITS[claim.currency])
    changes.ledger.append(
        (
            claim.partner_id,
            claim.policy_id,
            claim.livemode,
            collected_by,
            entry,
            now,
            period_of(now, timezone),
        )
    )
    changes.ledger_payouts.append((claim.id, payout_id))


def signals_for(
    tx: Tx,
    edition: Edition,
    policy: Policy,
    amount: Decimal | None,
    loss_at: datetime,
    evidence_ref: str | None,
    evidence_label: str | None,
    now: datetime,
    holder_counts: dict[str, int] | None = None,
    evidence_users: dict[str, set[str]] | None = None,
) -> list[Signal]:
    """The general fraud rules with the product's thresholds. The counts may be given
    (a trigger looks them up for thousands of policies at once)."""
    review = edition.claim_review
    holder = policy.policyholder.id_hash if policy.policyholder else None
    if holder_counts is None:
        since = now - timedelta(days=review.repeat_claims_days)
        holder_counts = tx.claims.holder_counts({holder}, since, policy.livemode) if holder else {}
    if evidence_users is None:
        evidence_users = (
            tx.claims.evidence_users({evidence_ref}, policy.livemode) if evidence_ref else {}
        )
    reused = sorted(evidence_users.get(evidence_ref or "", set()) - {policy.id})
    return general_signals(
        SignalFacts(
            issued_at=policy.created_at,
            loss_at=loss_at,
            amount=amount,
            currency=edition.currency,
            auto_approve_up_to=review.auto_approve_up_to,
            soon_after_issue_hours=review.soon_after_issue_hours,
            holder_claims_in_window=holder_counts.get(holder, 0) if holder else 0,
            repeat_claims_max=review.repeat_claims_max,
            repeat_claims_days=review.repeat_claims_days,
            evidence_label=evidence_label,
            evidence_reused_by=reused,
        )
    )


def decide_new(
    ctx: ClaimsContext,
    changes: Changes,
    claim: Claim,
    policy: Policy,
    signals: list[Signal],
    now: datetime,
    actor: Actor,
) -> Claim:
    """A claim just submitted: to people if anything is doubtful, else approved and paid."""
    changes.audit.append(audit_row(claim, actor, "submit", now, None))
    changes.events.append(claim_event("claim.created", claim, ctx.render))
    if signals or claim.amount_claimed is None or claim.amount_claimed <= 0:
        reasons = "; ".join(s.reason for s in signals) or "no rule can decide it"
        return transition(
            ctx,
            changes,
            claim,
            "refer",
            SYSTEM,
            now,
            reasons,
            signals=[s.to_json() for s in signals],
        )
    approved = transition(
        ctx,
        changes,
        claim,
        "approve",
        SYSTEM,
        now,
        f"decided by claim rule {claim.type}",
        amount_approved=claim.amount_claimed,
        decided_at=now,
        decided_by="system",
    )
    return settle(ctx, changes, approved, policy, now)


def new_claim(
    policy: Policy,
    currency: str,
    loss_key: str,
    origin: str,
    kind: str,
    now: datetime,
    **values: Any,
) -> Claim:
    """A claim just submitted on a policy; `values` fill in what the origin knows."""
    fields: dict[str, Any] = {
        "amount_claimed": None,
        "amount_approved": None,
        "amount_paid": None,
        "description": None,
        "evidence": {},
        "trigger_event_id": None,
        "observed_at": None,
        "event_time": None,
        "benefit_cap": None,
        "evaluation": None,
        "corrections": [],
        "signals": [],
        "evidence_ref": None,
        "first_approval": None,
        "info_requested_at": None,
        "decided_at": None,
        "decided_by": None,
        "decision_reason": None,
        "reject_code": None,
        "paid_at": None,
        **values,
    }
    return Claim(
        id=new_id("clm"),
        partner_id=policy.partner_id,
        livemode=policy.livemode,
        policy_id=policy.id,
        product_code=policy.product_code,
        edition=policy.edition,
        content_hash=policy.content_hash,
        loss_key=loss_key,
        origin=origin,
        type=kind,
        status=ClaimStatus.SUBMITTED.value,
        currency=currency,
        holder_key=policy.policyholder.id_hash if policy.policyholder else None,
        created_at=now,
        updated_at=now,
        **fields,
    )


def policy_facts(policy: Policy) -> PolicyFacts:
    """What claim rules may read about a policy besides its risk."""
    return PolicyFacts(
        policy.external_ref,
        policy.premium.total,
        policy.coverage_start,
        policy.coverage_end,
        policy.created_at,
    )


# -- reading ---------------------------------------------------------------------------


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
        )


# -- filing ----------------------------------------------------------------------------

_FILE_FIELDS = {"policy", "type", "description", "evidence", "amount_claimed"}
_EVIDENCE_REF = re.compile(r"^[A-Za-z0-9-]{4,40}$")


def _text(value: Any, param: str, required: bool = False, limit: int = _TEXT_LIMIT) -> str | None:
    if value is None:
        if required:
            raise InvalidRequest("is required", param=param)
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidRequest(f"must be a text of 1 to {limit} characters", param=param)
    return value.strip()


def _amount(value: Any, currency: str, param: str) -> Decimal:
    if not isinstance(value, dict) or set(value) != {"amount", "currency"}:
        raise InvalidRequest('must be money: {"amount": "12.34", "currency": "CNY"}', param=param)
    if value["currency"] != currency:
        raise InvalidRequest(f"currency must be {currency}", param=f"{param}.currency")
    try:
        amount = parse_amount(value["amount"])
    except MoneyError as exc:
        raise InvalidRequest(str(exc), param=f"{param}.amount") from None
    exp = MINOR_UNITS[currency]
    if amount != amount.quantize(Decimal(1).scaleb(-exp)):
        raise InvalidRequest(f"has more decimals than {currency} allows", param=f"{param}.amount")
    if amount <= 0:
        raise InvalidRequest("must be more than zero", param=f"{param}.amount")
    return amount


def loss_key_of(edition: Edition, benefit_code: str) -> str:
    """The loss a benefit pays for: a triggered benefit's trigger type (so a filed claim
    and a triggered claim about one flight are one loss), else the benefit itself."""
    for rule in edition.claims:
        if rule.code == benefit_code:
            return rule.trigger
    triggers = {rule.trigger for rule in edition.claims}
    if len(triggers) == 1:
        # Every claim of the product comes from one kind of fact: one loss per policy.
        return triggers.pop()
    return f"benefit:{benefit_code}"


def pinned_edition(catalog: ProductCatalog, policy: Policy) -> Edition:
    """The edition a policy was sold on, as it was sold (its content hash)."""
    edition = catalog.edition(policy.product_code, policy.edition)
    if edition is None or edition.content_hash != policy.content_hash:
        raise Conflict(
            f"edition {policy.edition} of {policy.product_code} is not loaded; its claim rules "
            "are unknown",
            code="edition_unavailable",
        )
    return edition


def file_claim(ctx: ClaimsContext, tx: Tx, caller: Caller, body: Any, now: datetime) -> Claim:
    """A claim the partner files for a case no trigger covers: people decide it."""
    if not isinstance(body, dict):
        raise InvalidRequest("must be an object")
    unknown = set(body) - _FILE_FIELDS
    if unknown:
        raise InvalidRequest("is not a field of a claim", param=sorted(unknown)[0])
    policy_id = body.get("policy")
    if not isinstance(policy_id, str) or not has_prefix(policy_id, "pol"):
        raise InvalidRequest("must be a policy id (pol_...)", param="policy")
    # Locked: a cancellation racing this filing sees the claim, or this filing sees it.
    policy = tx.policies.get(caller.partner_id, caller.livemode, policy_id, for_update=True)
    if policy is None:
        raise NotFound(f"no policy {policy_id}", param="policy")
    edition = pinned_edition(ctx.catalog, policy)
    kind = _text(body.get("type"), "type", required=True, limit=60)
    assert kind is not None
    if benefit(edition, kind) is None:
        codes = ", ".join(b.code for b in edition.benefits)
        raise InvalidRequest(f"must be a benefit of the policy: {codes}", param="type")
    description = _text(body.get("description"), "description", required=True)
    evidence = body.get("evidence", {})
    if not isinstance(evidence, dict):
        raise InvalidRequest("must be an object", param="evidence")
    if len(json.dumps(evidence)) > 20_000:
        raise InvalidRequest("must be at most 20,000 characters as JSON", param="evidence")
    amount = None
    if body.get("amount_claimed") is not None:
        amount = _amount(body["amount_claimed"], edition.currency, "amount_claimed")
        cap = benefit_cap(edition)
        if cap is not None and amount > cap:
            raise BusinessRefusal(
                f"{amount} {edition.currency} is more than the policy's largest benefit "
                f"({cap} {edition.currency})",
                code="amount_above_benefit",
                param="amount_claimed",
            )
    if policy.status not in ("active", "expired"):
        raise BusinessRefusal(
            f"policy {policy.id} is {policy.status}; only a policy that was in force can be "
            "claimed on",
            code="policy_not_in_force",
            param="policy",
        )
    tracking = evidence.get("tracking_number")
    evidence_ref = (
        tracking.upper() if isinstance(tracking, str) and _EVIDENCE_REF.match(tracking) else None
    )
    signals = [Signal("filed_claim", "filed by the partner; no trigger decides it")]
    contradiction = _contradicting_report(tx, edition, policy, kind, amount)
    if contradiction:
        signals.append(contradiction)
    signals += signals_for(
        tx,
        edition,
        policy,
        amount,
        now,
        evidence_ref,
        f"tracking number {evidence_ref}",
        now,
    )
    claim = new_claim(
        policy,
        edition.currency,
        loss_key_of(edition, kind),
        "filed",
        kind,
        now,
        amount_claimed=amount,
        description=description,
        evidence=evidence,
        observed_at=now,
        evidence_ref=evidence_ref,
        benefit_cap=benefit_cap(edition),
    )
    if not tx.claims.insert_claims([claim]):
        existing = tx.claims.for_policies([policy.id], claim.loss_key).get(policy.id)
        raise Conflict(
            f"policy {policy.id} already has claim {existing.id if existing else ''} for this "
            "loss; one loss is paid once",
            code="duplicate_claim",
            param="policy",
        )
    changes = Changes.empty()
    actor = Actor("partner", caller.partner_id)
    claim = decide_new(ctx, changes, claim, policy, signals, now, actor)
    tx.claims.update(claim, ClaimStatus.SUBMITTED.value)
    changes.write(tx)
    return claim


def _contradicting_report(
    tx: Tx, edition: Edition, policy: Policy, kind: str, amount: Decimal | None
) -> Signal | None:
    """A report about the policy's flight or order that the claim contradicts: the rules,
    run on that report, pay nothing (or less than claimed)."""
    loss = loss_key_of(edition, kind)
    trigger = TRIGGER_TYPES.get(loss)
    if trigger is None:
        return None
    report = tx.claims.latest_report_on_policy(policy.id, loss)
    if report is None:
        return None
    values = trigger.parse(report.data)
    facts = policy_facts(policy)
    event_time = report.event_time or trigger.event_time_of(values, report.observed_at)
    decision = decide_rules(
        edition,
        loss,
        edition.inputs.parse(policy.risk),
        facts,
        values,
        report.observed_at,
        event_time,
    )
    if decision.pays and (amount is None or amount <= (decision.amount or 0)):
        return None
    said = ", ".join(f"{k}={v}" for k, v in report.data.items() if k not in trigger.subjects[0])
    outcome = f"pays {decision.amount} {edition.currency}" if decision.pays else "pays nothing"
    return Signal(
        "trigger_contradicts_claim",
        f"report {report.id} ({said}) {outcome} under the product's rules",
    )


# -- attachments -----------------------------------------------------------------------

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._\-\u4e00-\u9fff ]")
_CONTENT_TYPE = re.compile(r"^[a-z0-9.+-]+/[a-z0-9.+-]+$")


def add_attachment(
    ctx: ClaimsContext,
    caller: Caller,
    claim_id: str,
    file_name: Any,
    content_type: Any,
    data: bytes,
    now: datetime,
) -> dict[str, Any]:
    """Store a file for a claim (by its sha256; the same bytes are kept once)."""
    with ctx.uow.write() as tx:
        return _add_attachment(ctx, tx, caller, claim_id, file_name, content_type, data, now)


def _add_attachment(
    ctx: ClaimsContext,
    tx: Tx,
    caller: Caller,
    claim_id: str,
    file_name: Any,
    content_type: Any,
    data: bytes,
    now: datetime,
) -> dict[str, Any]:
    claim = claim_of(tx, caller, claim_id, for_update=True)
    if not isinstance(file_name, str) or not file_name.strip() or len(file_name) > 255:
        raise InvalidRequest("a file name of 1 to 255 characters is required", param="file")
    ctype = (content_type or "application/octet-stream").split(";")[0].strip().lower()
    if not _CONTENT_TYPE.match(ctype):
        raise InvalidRequest("is not a media type such as image/jpeg", param="content_type")
    if len(data) > ctx.attachment_max_bytes:
        raise PayloadTooLarge(
            f"an attachment may be at most {ctx.attachment_max_bytes} bytes", param="file"
        )
    if not data:
        raise InvalidRequest("the file is empty", param="file")
    digest = hashlib.sha256(data).hexdigest()
    folder = ctx.attachments_dir / digest[:2]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / digest
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{digest}.")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)  # atomic: a reader never sees half a file
    row = {
        "id": new_id("att"),
        "claim_id": claim.id,
        "file_name": _SAFE_NAME.sub("_", file_name.strip()),
        "content_type": ctype,
        "size": len(data),
        "sha256": digest,
        "created_at": now,
    }
    tx.claims.insert_attachment(row)
    changes = Changes.empty()
    if claim.status in OPEN_STATUSES:
        after = transition(
            ctx,
            changes,
            claim,
            "add_information",
            Actor("partner", caller.partner_id),
            now,
            f"attachment {row['file_name']} ({len(data)} bytes, sha256 {digest[:12]}...)",
            info_requested_at=None,
        )
        if not tx.claims.update(after, claim.status):
            raise Conflict("the claim changed meanwhile; retry", code="concurrent_update")
    else:
        changes.audit.append(
            audit_row(
                claim,
                Actor("partner", caller.partner_id),
                "attach",
                now,
                None,
                str(row["file_name"]),
            )
        )
    changes.write(tx)
    return row


def attachment_path(ctx: ClaimsContext, sha256: str) -> Path:
    return ctx.attachments_dir / sha256[:2] / sha256


def attachment_file(ctx: ClaimsContext, claim_id: str, attachment_id: str) -> tuple[Any, Path]:
    """An attachment's row and the file holding its bytes (the ops console downloads it)."""
    with ctx.uow.read() as tx:
        row = tx.claims.attachment(claim_id, attachment_id)
    path = attachment_path(ctx, row.sha256) if row is not None else None
    if row is None or path is None or not path.is_file():
        raise NotFound(f"no attachment {attachment_id} on claim {claim_id}")
    return row, path


# -- people's decisions (ops console and ops API) ----------------------------------------


@dataclass(frozen=True)
class Decision:
    action: str  # approve | reject | request_info | retry_payout
    amount: Any = (
        None  # approve: money (or an amount in the claim's currency), else the claimed amount
    )
    reason: Any = None
    reject_code: Any = None


def decide(
    ctx: ClaimsContext, claim_id: str, staff: Actor, decision: Decision, now: datetime
) -> Claim:
    """One staff decision on a claim, in one transaction; the console and /v1/ops call it."""
    with ctx.uow.write() as tx:
        claim = tx.claims.get(claim_id, for_update=True) if has_prefix(claim_id, "clm") else None
        if claim is None:
            raise NotFound(f"no claim {claim_id}")
        changes = Changes.empty()
        if decision.action == "approve":
            after = _approve(ctx, tx, changes, claim, staff, decision, now)
        elif decision.action == "reject":
            after = _reject(ctx, changes, claim, staff, decision, now)
        elif decision.action == "request_info":
            reason = _text(decision.reason, "reason", required=True)
            after = transition(
                ctx,
                changes,
                claim,
                "request_info",
                staff,
                now,
                reason,
                info_requested_at=now,
            )
            # The partner answers with an attachment: tell it what is asked.
            changes.events.append(claim_event("claim.information_requested", after, ctx.render))
        elif decision.action == "retry_payout":
            after = _retry_payout(ctx, tx, changes, claim, staff, now)
        else:
            raise InvalidRequest(
                "must be approve, reject, request_info or retry_payout", param="action"
            )
        if not tx.claims.update(after, claim.status):
            raise Conflict("the claim changed meanwhile; reload it", code="concurrent_update")
        changes.write(tx)
        return after


def _approve(
    ctx: ClaimsContext,
    tx: Tx,
    changes: Changes,
    claim: Claim,
    staff: Actor,
    decision: Decision,
    now: datetime,
) -> Claim:
    claim_transition(claim.status, "approve")  # refuse a closed claim before anything else
    reason = _text(decision.reason, "reason")
    policy = tx.policies.get(claim.partner_id, claim.livemode, claim.policy_id)
    assert policy is not None
    edition = pinned_edition(ctx.catalog, policy)
    if isinstance(decision.amount, str):  # the console's form: in the claim's currency
        amount = _amount(
            {"amount": decision.amount, "currency": claim.currency}, claim.currency, "amount"
        )
    elif decision.amount is not None:
        amount = _amount(decision.amount, claim.currency, "amount")
    elif claim.amount_claimed is not None and claim.amount_claimed > 0:
        amount = claim.amount_claimed
    else:
        raise InvalidRequest("the claim names no amount: give one", param="amount")
    cap = benefit_cap(edition)
    if cap is not None and amount > cap:
        raise BusinessRefusal(
            f"{amount} {claim.currency} is more than the policy's largest benefit "
            f"({cap} {claim.currency})",
            code="amount_above_benefit",
            param="amount",
        )
    if amount != claim.amount_claimed and not reason:
        raise InvalidRequest("say why the amount differs from the claim", param="reason")
    limit = ctx.second_approval_above
    if amount > limit:
        first = claim.first_approval
        if first is None or Decimal(first["amount"]) != amount:
            # Four eyes above the limit: this approval waits for a different approver.
            return transition(
                ctx,
                changes,
                claim,
                "approve_first",
                staff,
                now,
                f"first approval of {amount} {claim.currency}, above the "
                f"{limit} {claim.currency} limit: a second approver must confirm"
                + (f"; {reason}" if reason else ""),
                first_approval={
                    "by": staff.id,
                    "email": staff.label,
                    "amount": str(amount),
                    "reason": reason,
                    "at": now.isoformat(),
                },
            )
        if first["by"] == staff.id:
            raise PermissionDenied(
                f"approvals above {limit} {claim.currency} need a second, different approver",
                code="second_approver_required",
            )
        if staff.role not in ("approver", "admin"):
            raise PermissionDenied(
                f"a second approval above {limit} {claim.currency} needs the approver role",
                code="approver_role_required",
            )
    approved = transition(
        ctx,
        changes,
        claim,
        "approve",
        staff,
        now,
        reason or "approved",
        amount_approved=amount,
        decided_at=now,
        decided_by=staff.id,
        decision_reason=reason,
        info_requested_at=None,
    )
    return settle(ctx, changes, approved, policy, now)


def _reject(
    ctx: ClaimsContext,
    changes: Changes,
    claim: Claim,
    staff: Actor,
    decision: Decision,
    now: datetime,
) -> Claim:
    if decision.reject_code not in REJECT_CODES:
        raise InvalidRequest(f"must be one of: {', '.join(REJECT_CODES)}", param="reject_code")
    reason = _text(decision.reason, "reason", required=True)
    return transition(
        ctx,
        changes,
        claim,
        "reject",
        staff,
        now,
        f"{decision.reject_code}: {reason}",
        reject_code=decision.reject_code,
        decision_reason=reason,
        decided_at=now,
        decided_by=staff.id,
        first_approval=None,
    )


def _retry_payout(
    ctx: ClaimsContext,
    tx: Tx,
    changes: Changes,
    claim: Claim,
    staff: Actor,
    now: datetime,
) -> Claim:
    after = transition(ctx, changes, claim, "retry_payout", staff, now, "payout sent again")
    failed = [p for p in tx.claims.payouts_of(claim.id) if p.status == "failed"]
    if not failed:
        raise Conflict("the payout is not in a failed state", code="payout_not_failed")
    for payout in failed:
        if not tx.claims.update_payout(
            payout.id, "failed", status="pending", attempts=0, last_error=None, updated_at=now
        ):
            raise Conflict("the payout changed meanwhile; reload", code="concurrent_update")
    return after


def audit_log(tx: Tx, claim_id: str) -> list[sa.Row[Any]]:
    return tx.claims.audit_of(claim_id)
