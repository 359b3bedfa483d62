"""The general fraud rules: why a claim goes to people instead of being paid, for every
product, with the product's own thresholds. Pure, so that a product's test cases
(tests.yaml) show the same signals the service raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal


@dataclass(frozen=True)
class Signal:
    """Why a claim is sent to people instead of being paid."""

    code: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "reason": self.reason}


@dataclass(frozen=True)
class SignalFacts:
    """What the general fraud rules look at, for one claim."""

    issued_at: datetime
    loss_at: datetime  # when the loss was observed (the trigger's time, or the filing)
    amount: Decimal | None
    currency: str
    auto_approve_up_to: Decimal | None
    soon_after_issue_hours: Decimal | None
    holder_claims_in_window: int  # other claims of the same policyholder in the window
    repeat_claims_max: int
    repeat_claims_days: int
    evidence_label: str | None = None  # e.g. "tracking number SF1234"
    evidence_reused_by: list[str] = field(default_factory=list)  # other policies' ids


def general_signals(f: SignalFacts) -> list[Signal]:
    """The rules that hold for every product; the product's own thresholds come in `f`."""
    out: list[Signal] = []
    if f.loss_at < f.issued_at:
        out.append(
            Signal(
                "issued_after_event",
                f"the policy was issued at {f.issued_at.isoformat()}, after the loss was "
                f"observed at {f.loss_at.isoformat()}",
            )
        )
    elif f.soon_after_issue_hours is not None and f.loss_at - f.issued_at < timedelta(
        hours=float(f.soon_after_issue_hours)
    ):
        out.append(
            Signal(
                "soon_after_issue",
                f"loss {_duration(f.loss_at - f.issued_at)} after the policy was issued "
                f"(the product reviews losses within {f.soon_after_issue_hours} h)",
            )
        )
    if f.holder_claims_in_window >= f.repeat_claims_max:
        out.append(
            Signal(
                "repeat_claimant",
                f"the policyholder has {f.holder_claims_in_window} other claim(s) in the last "
                f"{f.repeat_claims_days} days (the product reviews more than "
                f"{f.repeat_claims_max - 1})",
            )
        )
    if (
        f.amount is not None
        and f.auto_approve_up_to is not None
        and f.amount > f.auto_approve_up_to
    ):
        out.append(
            Signal(
                "above_auto_approve_limit",
                f"{f.amount} {f.currency} is above the product's automatic approval limit of "
                f"{f.auto_approve_up_to} {f.currency}",
            )
        )
    if f.evidence_reused_by:
        # Partners see signals: count the other claims, do not name them (ops see them).
        out.append(
            Signal(
                "evidence_reused",
                f"the {f.evidence_label} is also the evidence of "
                f"{len(f.evidence_reused_by)} other claim(s)",
            )
        )
    return out


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
