"""Trigger types: the facts about the world that claim rules react to.

A trigger is posted by a data provider (a flight-status feed, a logistics company) and
settles claims with no form to fill in. Its fields are declared in a file beside the
products (`triggers/<name>.yaml`, read by loading/triggers.py) because providers and every
product share them; a product's claim rules name the trigger type, the fields they match
policies on and the fields they compare.
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
from .inputs import InputSet
from .money import Money


@dataclass(frozen=True)
class TriggerType:
    name: str
    description: str
    fields: InputSet
    #: ways of naming what the fact is about; a trigger must complete at least one
    subjects: tuple[tuple[str, ...], ...]
    #: a field that identifies the evidence (a shipment's tracking number): reused across
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
