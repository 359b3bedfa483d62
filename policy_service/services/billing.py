"""What the payment flow needs (the payment API, the renderers, the settlement time zone)
and how a premium taken by us is booked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from policy_service.adapters.stripe_gateway import (
    StripeGateway,
)
from policy_service.domain.errors import InvalidRequest, PaymentFailed
from policy_service.domain.ledger import period_of
from policy_service.domain.money import MINOR_UNITS
from policy_service.domain.records import Caller, Endorsement, Policy

from .catalog import ProductCatalog
from .idempotency import RenderError
from .unit_of_work import UnitOfWork


@dataclass
class Billing:
    """What the payment flow needs from its caller (API, worker, Stripe webhook)."""

    uow: UnitOfWork
    gateway: StripeGateway | None
    render: Callable[[Policy], dict[str, Any]]
    render_error: RenderError
    settlement_timezone: str
    #: an endorsement's charge applies the change once paid (services/endorsement_billing)
    catalog: ProductCatalog | None = None
    render_endorsement: Callable[[Endorsement, Policy], dict[str, Any]] | None = None

    @property
    def lease(self) -> timedelta:
        """How long one run of the charge flow may hold a payment: every call it makes,
        with its retries, ends well within it."""
        timeout = self.gateway.timeout if self.gateway else 10.0
        return timedelta(seconds=4 * timeout + 10)


def check_payment_method(value: Any, caller: Caller) -> str | None:
    if caller.billing_mode != "stripe":
        if value is not None:
            raise InvalidRequest(
                "this partner is billed by settlement; premiums are not charged here",
                param="payment_method",
            )
        return None
    if (
        not isinstance(value, str)
        or not value.startswith(("pm_", "card_", "src_"))
        or len(value) > 80
    ):
        raise InvalidRequest(
            "is required: the Stripe PaymentMethod id (pm_...)", param="payment_method"
        )
    return value


def minor_exponent(policy: Policy) -> int:
    return MINOR_UNITS[policy.premium.currency]


def ledger_row(billing: Billing, policy: Policy, entry: Any, now: datetime) -> tuple[Any, ...]:
    return (
        policy.partner_id,
        policy.id,
        policy.livemode,
        "us",
        entry,
        now,
        period_of(now, billing.settlement_timezone),
    )


def declined_error(
    message: str | None, code: str | None, policy_id: str, endorsing: bool = False
) -> PaymentFailed:
    outcome = "the policy is unchanged" if endorsing else "the policy is not in force"
    return PaymentFailed(
        f"the payment was declined ({message or 'no reason given'}); {outcome}",
        details={"decline_code": code, "policy": policy_id},
    )
