"""Claims: created from triggers or filed by partners, decided by rules or by people, paid.

Every change goes through `transition`, which checks the transition table and records the
audit row and the event; the caller writes the claim back only if nobody changed it
meanwhile, all in its transaction. Approval settles the payout: partner-settled policies
get a payout line on the partner's statement at once (the platform pays its buyer);
stripe-billed ones a payout the worker sends through the payment API. A later report that
reaches a higher tier tops a paying claim up with a further payout of the difference.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from policy_service.adapters import events_repo
from policy_service.adapters.file_store import FileStore
from policy_service.config import Config
from policy_service.domain.claims import (
    Claim,
    ClaimStatus,
    claim_transition,
)
from policy_service.domain.errors import (
    Conflict,
    InvalidRequest,
)
from policy_service.domain.ids import new_id
from policy_service.domain.money import MINOR_UNITS
from policy_service.domain.records import Policy
from pricing.claim_signals import Signal, SignalFacts, general_signals
from pricing.claims import PolicyFacts
from pricing.model import Edition
from pricing.money import MoneyError, parse_amount

from .catalog import ProductCatalog
from .outbox import record_events
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
    #: where attachments are kept
    files: FileStore
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
        FileStore(config.attachments_dir or config.data_dir / "attachments"),
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

    def gather(self, other: Changes) -> None:
        """Gather another claim's changes, so that many claims write in one statement each."""
        self.audit += other.audit
        self.events += other.events
        self.payouts += other.payouts
        self.ledger += other.ledger
        self.ledger_payouts += other.ledger_payouts

    def write(self, tx: Tx) -> None:
        tx.claims.audit(self.audit)
        tx.claims.insert_payouts(self.payouts)
        tx.ledger.insert_entries(self.ledger, self.ledger_payouts)
        record_events(tx, self.events)


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
        "partner_id": claim.partner_id,
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
        # written once as JSON and stored as it is (a settlement writes thousands)
        data=orjson.Fragment(orjson.dumps(render(claim), option=orjson.OPT_NON_STR_KEYS)),
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


# -- filing ----------------------------------------------------------------------------


def text_of(value: Any, param: str, required: bool = False, limit: int = _TEXT_LIMIT) -> str | None:
    if value is None:
        if required:
            raise InvalidRequest("is required", param=param)
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidRequest(f"must be a text of 1 to {limit} characters", param=param)
    return value.strip()


def amount_of(value: Any, currency: str, param: str) -> Decimal:
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
    edition = catalog.pinned(policy.product_code, policy.edition, policy.content_hash)
    if edition is None:
        raise Conflict(
            f"edition {policy.edition} of {policy.product_code} is not loaded; its claim rules "
            "are unknown",
            code="edition_unavailable",
        )
    return edition


# -- attachments -----------------------------------------------------------------------


# -- people's decisions (ops console and ops API) ----------------------------------------
