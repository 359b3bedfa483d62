"""Plain records of partners, quotes and policies as the services see them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from .lifecycle import PolicyStatus
from .policyholder import Policyholder

CANCEL_REASONS = ("requested_by_customer", "order_cancelled", "duplicate", "fraudulent", "other")
BILLING_MODES = ("partner_settled", "stripe")
#: a premium charged through the payment API: creating -> confirming -> succeeded | failed
#: (unknown: the API did not answer)
PAYMENT_STATUSES = ("creating", "confirming", "unknown", "succeeded", "failed")
REFUND_STATUSES = ("pending", "succeeded", "failed")
#: what a payment pays: a policy's premium, or the difference an endorsement adds to it
PAYMENT_PURPOSES = ("premium", "endorsement")
#: what a refund gives back: premium (a cancellation, or a charge that landed too late),
#: an endorsement's lowered premium, or an endorsement charge that could not be applied
REFUND_KINDS = ("premium", "endorsement", "returned")
#: reviewer (decides within the limit) < approver (the second approval) < admin (staff)
STAFF_ROLES = ("reviewer", "approver", "admin")
ALL_SCOPES = (
    "products:read",
    "quotes:write",
    "policies:read",
    "policies:write",
    "events:read",
    "webhooks:write",
    "statements:read",
    "claims:read",
    "claims:write",
    "trigger_events:write",
    "keys:admin",
    "privacy:write",
)
#: a key with this scope may do everything, including what later versions add
FULL_ACCESS = "*"


@dataclass(frozen=True)
class Partner:
    id: str
    name: str
    billing_mode: str
    created_at: datetime


@dataclass(frozen=True)
class Caller:
    """Who is calling: a partner's API key, in test or live mode, with its scopes."""

    partner_id: str
    livemode: bool
    key_id: str
    scopes: frozenset[str]
    billing_mode: str = "partner_settled"
    #: set when the key is a data provider's: it may post trigger events and nothing else
    provider_id: str | None = None
    #: the partner's (or provider's) own rate limit per key, e.g. 500/second
    rate_limit: str | None = None

    def may(self, scope: str) -> bool:
        return FULL_ACCESS in self.scopes or scope in self.scopes


@dataclass(frozen=True)
class Premium:
    """An itemised premium in major units (Decimal); net + tax + commission + fees = total."""

    currency: str
    total: Decimal
    net: Decimal
    tax: Decimal
    commission: Decimal
    fees: Decimal


@dataclass(frozen=True)
class Quote:
    id: str
    partner_id: str
    livemode: bool
    product_code: str
    edition: str
    content_hash: str
    external_ref: str | None
    risk: dict[str, Any]
    premium: Premium
    worksheet: dict[str, Any]
    coverage_start: datetime
    coverage_end: datetime
    expires_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class Policy:
    id: str
    partner_id: str
    livemode: bool
    product_code: str
    edition: str
    content_hash: str
    quote_id: str | None
    external_ref: str
    status: str
    risk: dict[str, Any]
    policyholder: Policyholder | None
    premium: Premium
    #: None: not stored, the pinned edition gives it again (services.policies.completed)
    worksheet: dict[str, Any] | None
    coverage_start: datetime
    coverage_end: datetime
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    refund_amount: Decimal | None = None
    #: stripe billing: the PaymentIntent that charged the premium
    payment_intent: str | None = None
    #: when the premium was priced: at issue, or when its quote was made (None: not
    #: recorded; the policy then stores its worksheet). An endorsement prices the new
    #: risk at this same time, so the difference is the risk's alone.
    priced_at: datetime | None = None
    #: 1 as issued; one more per endorsement
    version: int = 1


@dataclass(frozen=True)
class Endorsement:
    """A change of a policy after issue: what it was before and what it became."""

    id: str
    partner_id: str
    livemode: bool
    policy_id: str
    #: the policy's version it made (2 for the first)
    version: int
    risk_before: dict[str, Any]
    risk_after: dict[str, Any]
    #: the policyholder's name and phone before and after (None: no policyholder)
    holder_before: dict[str, Any] | None
    holder_after: dict[str, Any] | None
    premium_before: Premium
    premium_after: Premium
    coverage_before: tuple[datetime, datetime]
    coverage_after: tuple[datetime, datetime]
    created_at: datetime

    @property
    def difference(self) -> Decimal:
        """The premium to collect (positive) or to give back (negative)."""
        return self.premium_after.total - self.premium_before.total

    def changed(self) -> dict[str, dict[str, Any]]:
        """Each field that changed, as {"risk.NAME" | "policyholder.NAME": {from, to}}."""
        out: dict[str, dict[str, Any]] = {}
        for prefix, before, after in (
            ("risk", self.risk_before, self.risk_after),
            ("policyholder", self.holder_before or {}, self.holder_after or {}),
        ):
            for name in sorted(set(before) | set(after)):
                if before.get(name) != after.get(name):
                    out[f"{prefix}.{name}"] = {"from": before.get(name), "to": after.get(name)}
        return out


@dataclass(frozen=True)
class AsIssued:
    """A stored answer (an Idempotency-Key's, an event's) that is a policy as it was
    issued: kept as the policy's id, its JSON made again from the policy's row."""

    policy_id: str


def as_issued(policy: Policy, first: Endorsement | None = None) -> Policy:
    """A policy issued in force (partner-settled billing) as it was then: what changed
    since (a cancellation, an expiry) taken off, and, when it was endorsed, its first
    endorsement's "before" (the risk, policyholder details, premium and cover it had)."""
    issued = replace(
        policy,
        status=PolicyStatus.ACTIVE.value,
        cancelled_at=None,
        cancel_reason=None,
        refund_amount=None,
        updated_at=policy.created_at,
        version=1,
    )
    if first is None:
        return issued
    holder = policy.policyholder
    if holder is not None and first.holder_before is not None:
        holder = replace(
            holder, name=first.holder_before["name"], phone=first.holder_before.get("phone")
        )
    return replace(
        issued,
        risk=first.risk_before,
        policyholder=holder,
        premium=first.premium_before,
        coverage_start=first.coverage_before[0],
        coverage_end=first.coverage_before[1],
    )
