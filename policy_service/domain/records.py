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
    #: recorded; the policy then stores its worksheet)
    priced_at: datetime | None = None


@dataclass(frozen=True)
class AsIssued:
    """A stored answer (an Idempotency-Key's, an event's) that is a policy as it was
    issued: kept as the policy's id, its JSON made again from the policy's row."""

    policy_id: str


def as_issued(policy: Policy) -> Policy:
    """A policy issued in force (partner-settled billing) as it was then: what changed
    since (a cancellation, an expiry) taken off. Nothing else of a policy ever changes."""
    return replace(
        policy,
        status=PolicyStatus.ACTIVE.value,
        cancelled_at=None,
        cancel_reason=None,
        refund_amount=None,
        updated_at=policy.created_at,
    )
