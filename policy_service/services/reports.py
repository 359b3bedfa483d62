"""A trigger report as it is applied: the fact, when it was observed, when its loss happened."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pricing.triggers import TriggerType

from .claims import Actor


@dataclass(frozen=True)
class Report:
    """One trigger being applied: the fact, when it was observed and when its loss happened."""

    id: str
    trigger: TriggerType
    values: dict[str, Any]
    data: dict[str, Any]
    observed_at: datetime
    event_time: datetime
    #: since when anything was known about the subject (a policy bought later knew)
    known_since: datetime
    #: a partner's simulation touches only that partner's policies
    partner_scope: str | None
    livemode: bool
    actor: Actor

    @property
    def evidence_ref(self) -> str | None:
        field_name = self.trigger.evidence_field
        value = self.values.get(field_name) if field_name else None
        return str(value).upper() if value else None
