"""JSON views of endorsements, of what a product lets change after issue, and of a
privacy export (a person's policies, claims and endorsements)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from policy_service.domain.records import Endorsement, Policy
from pricing.model import Product

from .render import claim, iso, money, premium


def endorsement(e: Endorsement, policy: dict[str, Any] | None = None) -> dict[str, Any]:
    """An endorsement; `policy`: the policy's JSON after it (a policy.endorsed event and
    the 201 answer embed it; a list names the policy by id)."""
    currency = e.premium_after.currency
    return {
        "id": e.id,
        "object": "endorsement",
        "livemode": e.livemode,
        "policy": policy if policy is not None else e.policy_id,
        "version": e.version,
        "changes": e.changed(),
        "premium_before": premium(e.premium_before),
        "premium_after": premium(e.premium_after),
        "premium_difference": money(e.difference, currency),
        "coverage_before": {
            "starts_at": iso(e.coverage_before[0]),
            "ends_at": iso(e.coverage_before[1]),
        },
        "coverage_after": {
            "starts_at": iso(e.coverage_after[0]),
            "ends_at": iso(e.coverage_after[1]),
        },
        "created_at": iso(e.created_at),
    }


def endorsable(prod: Product) -> dict[str, Any] | None:
    """What a product's policies may change after issue, and the reasons it refuses."""
    rules = prod.endorsements
    if rules is None:
        return None
    return {
        "risk": list(rules.risk),
        "policyholder": list(rules.policyholder),
        "refusals": [{"code": r.code, "message": r.message} for r in rules.refuse],
    }


def privacy_export(
    held: Any, render_policy: Callable[[Policy], dict[str, Any]], now: datetime
) -> dict[str, Any]:
    """What a privacy export answers (services.privacy.Held), for the API and the CLI."""
    return {
        "object": "privacy_export",
        "generated_at": iso(now),
        "policies": [render_policy(p) for p in held.policies],
        "claims": [claim(c) for c in held.claims],
        "endorsements": [endorsement(e) for e in held.endorsements],
    }
