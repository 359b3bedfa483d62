"""Trigger types: the facts about the world that claim rules react to.

A trigger is posted by a data provider (a flight-status feed, a logistics company) and
settles claims with no form to fill in. Its fields are declared here, in code, because
providers and every product share them; a product's claim rules name the trigger type,
the fields they match policies on and the fields they compare.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from . import typecheck
from .errors import EvaluationError, InputError, InputErrors
from .expressions import Expression, compile_expression
from .inputs import InputSet, InputSpec
from .money import Money


@dataclass(frozen=True)
class TriggerType:
    name: str
    description: str
    fields: InputSet
    #: ways of naming what the fact is about; a trigger must complete at least one
    subjects: tuple[tuple[str, ...], ...]
    #: a field that identifies the evidence (a parcel's tracking number): reused across
    #: different policies, it is a fraud signal
    evidence_field: str | None = None
    #: when what the fact reports happened, over its fields and `observed_at` (when the
    #: fact was first observed): a report observed before it is premature
    event_time_source: str = "observed_at"
    event_time: Expression = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        scope = typecheck.scope_of(self.fields.specs, observed_at=typecheck.T_DATETIME)
        expr = compile_expression(self.event_time_source, scope.keys(), UTC)
        errors = typecheck.check(expr, scope, typecheck.DATETIME)
        if errors:
            raise ValueError(f"trigger type {self.name}: event time: {'; '.join(errors)}")
        object.__setattr__(self, "event_time", expr)

    def event_time_of(self, values: dict[str, Any], observed_at: datetime) -> datetime:
        """When the reported loss happened (a delay of 245 minutes: the scheduled departure
        plus 245 minutes; a pickup: its time); `observed_at` is when it was first seen."""
        env = {n: v.amount if isinstance(v, Money) else v for n, v in values.items()}
        result = self.event_time({**env, "observed_at": observed_at})
        if not isinstance(result, datetime):  # pragma: no cover - checked when declared
            raise EvaluationError(f"{self.name}: the event time is not a date-time")
        return result

    def parse(self, raw: Any, prefix: str = "data") -> dict[str, Any]:
        values = self.fields.parse(raw, prefix)
        if self.subject_of(values) is None:
            names = " or ".join("+".join(s) for s in self.subjects)
            raise InputErrors([InputError(prefix, f"must name what it is about: {names}")])
        return values

    def subject_of(self, values: dict[str, Any]) -> tuple[str, ...] | None:
        """The first complete way of naming the subject, or None."""
        for subject in self.subjects:
            if all(values.get(name) is not None for name in subject):
                return subject
        return None


_CARRIER = InputSpec(
    "carrier", "string", pattern="^[A-Z0-9]{2}$", description="IATA code of the carrier"
)
_FLIGHT_NUMBER = InputSpec(
    "flight_number",
    "string",
    pattern="^[A-Z0-9]{2}[0-9]{1,4}[A-Z]?$",
    description="Flight number with its carrier prefix, e.g. MU5101",
)

TRIGGER_TYPES: dict[str, TriggerType] = {
    t.name: t
    for t in (
        TriggerType(
            "flight.status",
            "The status of one flight: delayed (with the delay so far), departed, arrived "
            "or cancelled. A later report about the same flight corrects an earlier one.",
            InputSet(
                (
                    _CARRIER,
                    _FLIGHT_NUMBER,
                    InputSpec(
                        "scheduled_departure",
                        "datetime",
                        description="Scheduled departure with the airport's UTC offset",
                    ),
                    InputSpec(
                        "status",
                        "string",
                        enum=("scheduled", "delayed", "departed", "arrived", "cancelled"),
                    ),
                    InputSpec(
                        "delay_minutes",
                        "integer",
                        required=False,
                        minimum=Decimal(0),
                        maximum=Decimal(100_000),
                        description="Departure delay in minutes (absent for a cancellation)",
                    ),
                    InputSpec(
                        "actual_departure",
                        "datetime",
                        required=False,
                        description="When the flight actually left, once it has",
                    ),
                )
            ),
            (("carrier", "flight_number", "scheduled_departure"),),
            # A delay of N minutes is a fact only N minutes after the scheduled departure;
            # a cancellation is one from when it is announced.
            event_time_source=(
                "scheduled_departure + minutes(delay_minutes) if delay_minutes >= 0 "
                "else observed_at"
            ),
        ),
        TriggerType(
            "shipment.return",
            "A return parcel picked up by a carrier: the goods of an order are being sent back.",
            InputSet(
                (
                    InputSpec(
                        "platform",
                        "string",
                        required=False,
                        pattern="^[a-z0-9_]{2,32}$",
                        description="Marketplace of the order, e.g. taobao",
                    ),
                    InputSpec(
                        "order_id",
                        "string",
                        required=False,
                        pattern="^[A-Za-z0-9_-]{1,64}$",
                        description="The marketplace's order number",
                    ),
                    InputSpec(
                        "external_ref",
                        "string",
                        required=False,
                        min_length=1,
                        max_length=200,
                        description="The selling partner's order id, when the marketplace's is unknown",
                    ),
                    InputSpec("carrier", "string", min_length=1, max_length=40),
                    InputSpec(
                        "tracking_number",
                        "string",
                        pattern="^[A-Za-z0-9-]{4,40}$",
                        description="The return parcel's tracking number",
                    ),
                    InputSpec("picked_up_at", "datetime"),
                    InputSpec(
                        "shipping_cost",
                        "money",
                        minimum=Decimal(0),
                        maximum=Decimal(100_000),
                        description="What the buyer paid to send the parcel back",
                    ),
                )
            ),
            (("platform", "order_id"), ("external_ref",)),
            evidence_field="tracking_number",
            event_time_source="picked_up_at",
        ),
    )
}


def canonical(value: Any) -> str:
    """One text per value, whatever offset or format it came in (for matching keys)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Money):
        return f"{value.amount.normalize()} {value.currency}"
    if isinstance(value, Decimal):
        return str(value.normalize())
    return str(value)


def subject_key(
    trigger: str, livemode: bool, names: tuple[str, ...], values: dict[str, Any]
) -> str:
    """What a trigger and a policy agree on: sha256 of the trigger type, the mode and the
    named values. A policy stores one per claim rule; a trigger computes the same."""
    text = "\x1f".join(
        [trigger, "live" if livemode else "test", *(f"{n}={canonical(values[n])}" for n in names)]
    )
    return hashlib.sha256(text.encode()).hexdigest()


def to_json(trigger: TriggerType, values: dict[str, Any]) -> dict[str, Any]:
    return trigger.fields.to_json(values)
