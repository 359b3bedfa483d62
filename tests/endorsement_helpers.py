"""A product read from products/ whose endorsements may move what its claim rules match
on (a rebooked flight), a paying case of its tests.yaml, and the change that moves it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from policy_service.domain.errors import ServiceError
from pricing.inputs import InputSpec
from pricing.loader import load_catalog
from pricing.model import Edition, Product
from pricing.model import TestCase as ProductCase

from .conftest import PRODUCTS, ApiClient, Clock, passenger


def scenario() -> tuple[Product, ProductCase, Edition, list[str]]:
    for product in load_catalog(PRODUCTS).products.values():
        if product.endorsements is None:
            continue
        for case in product.tests:
            fact = case.trigger
            if not fact or case.expect.get("claim") != "pays" or case.expect.get("review"):
                continue
            edition = product.edition(case.edition) if case.edition else None
            edition = edition or product.edition_at(case.quoted_at)
            assert edition is not None
            matched = {
                name
                for rule in edition.claims
                if rule.trigger == fact.type.name
                for names in rule.match
                for name in names
            }
            moved = [f for f in product.endorsements.risk if f in matched]
            if moved:
                return product, case, edition, moved
    raise AssertionError("products/ has no product whose endorsements move a claim's subject")


PRODUCT, CASE, EDITION, MOVED = scenario()


def another(spec: InputSpec, value: Any) -> Any:
    """A different valid value of an input, close to `value`."""
    if isinstance(value, datetime):
        return value + timedelta(hours=3)
    if isinstance(value, date):
        return value + timedelta(days=1)
    if spec.enum:
        return next(v for v in spec.enum if v != value)
    text = str(value)
    for i in reversed(range(len(text))):
        c = text[i]
        bumped = None
        if c.isdigit():
            bumped = str((int(c) + 1) % 10)
        elif "A" <= c <= "Z" or "a" <= c <= "z":
            base = ord("A") if c.isupper() else ord("a")
            bumped = chr((ord(c) - base + 1) % 26 + base)
        if bumped is None:
            continue
        candidate = text[:i] + bumped + text[i + 1 :]
        if spec.pattern is None or re.fullmatch(spec.pattern, candidate):
            return candidate
    raise AssertionError(f"no other value of {spec.name} near {value!r}")


def issue(api: ApiClient, clock: Clock, ref: str = "endorse-1") -> dict[str, Any]:
    clock.now = CASE.quoted_at.astimezone(UTC)
    body: dict[str, Any] = {
        "product": PRODUCT.code,
        "external_ref": ref,
        "risk": EDITION.inputs.to_json(EDITION.inputs.parse(CASE.risk)),
    }
    if PRODUCT.policyholder == "required":
        body["policyholder"] = passenger()
    status, policy = api.post("/v1/policies", body)
    assert status == 201, policy
    return policy


def changes() -> tuple[dict[str, Any], dict[str, Any], timedelta]:
    """The moved fields' new values (JSON and parsed), and how far a moved time moved."""
    parsed = EDITION.inputs.parse(CASE.risk)
    new = {name: another(EDITION.inputs.by_name[name], parsed[name]) for name in MOVED}
    shift = next(
        (new[n] - parsed[n] for n in MOVED if isinstance(parsed[n], datetime)), timedelta(0)
    )
    return EDITION.inputs.to_json({**parsed, **new}), new, shift


def priced_change(dearer: bool) -> tuple[dict[str, Any], Decimal]:
    """One endorsable risk field changed so that the case's policy costs more (or less), in
    JSON, and the premium difference (priced as an endorsement is: at issue time)."""
    from policy_service.services.rating import premium_of, price_risk

    base = EDITION.inputs.parse(CASE.risk)
    before = premium_of(price_risk(EDITION, base, CASE.quoted_at)).total
    for name in PRODUCT.endorsements.risk if PRODUCT.endorsements else ():
        spec, value = EDITION.inputs.by_name[name], base[name]
        for _ in range(40):
            value = another(spec, value)
            try:
                after = premium_of(price_risk(EDITION, {**base, name: value}, CASE.quoted_at))
            except ServiceError:
                break  # not sellable: try another field
            if (after.total > before) if dearer else (after.total < before):
                changed = EDITION.inputs.to_json({**base, name: value})
                return {name: changed[name]}, after.total - before
    raise AssertionError(f"no endorsable field of {PRODUCT.code} makes it {dearer=}")
