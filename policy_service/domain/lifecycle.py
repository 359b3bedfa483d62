"""Policy lifecycle as an explicit transition table."""

from __future__ import annotations

from enum import StrEnum

from .errors import InvalidTransition


class PolicyStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"  # waiting for the payment API (stripe billing)
    ACTIVE = "active"  # in force
    PAYMENT_FAILED = "payment_failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


POLICY_STATUSES = tuple(s.value for s in PolicyStatus)


#: status -> {action: new status}
POLICY_TRANSITIONS: dict[PolicyStatus, dict[str, PolicyStatus]] = {
    PolicyStatus.PENDING_PAYMENT: {
        "payment_succeeded": PolicyStatus.ACTIVE,
        "payment_failed": PolicyStatus.PAYMENT_FAILED,
    },
    PolicyStatus.ACTIVE: {
        "cancel": PolicyStatus.CANCELLED,
        "expire": PolicyStatus.EXPIRED,
    },
    PolicyStatus.PAYMENT_FAILED: {},
    PolicyStatus.CANCELLED: {},
    PolicyStatus.EXPIRED: {},
}


def policy_transition(current: str, action: str) -> PolicyStatus:
    """The status after `action`, or InvalidTransition naming both."""
    status = PolicyStatus(current)
    target = POLICY_TRANSITIONS[status].get(action)
    if target is None:
        raise InvalidTransition(
            f"a policy that is {status.value} cannot be {_past(action)}",
            code=f"policy_{status.value}" if action == "cancel" else "invalid_state_transition",
        )
    return target


def _past(action: str) -> str:
    return {"cancel": "cancelled", "expire": "expired"}.get(action, action.replace("_", " "))
