"""product.yaml's `endorsements:` section: which inputs and policyholder details a partner
may change after issue, and the rules that refuse a change (each read on the policy as
it stands and as it would become, so "two hours before departure" holds for the booked
flight and the new one).

    endorsements:
      risk: [carrier, flight_number, scheduled_departure]
      policyholder: [name, phone]
      refuse:
        - code: departure_too_soon
          when: hours_to_departure < 2
          message: A flight can be changed until two hours before it leaves.

A rule's `when` reads what a cancellation rule reads (inputs, derived values, `now`,
`coverage_start`, `coverage_end`, `issued_at`) and is compiled for every edition.
"""

from __future__ import annotations

from typing import Any

from .. import typecheck
from ..model import ENDORSABLE_HOLDER_FIELDS, Edition, EndorsementRule, Endorsements
from ..typecheck import BOOL, T_DATETIME, Type
from .reader import Collect, Reader

SECTION = "endorsements"


def edition_scope(edition: Edition) -> dict[str, Type]:
    """The names a rule about one of the edition's policies may read, with their types."""
    scope = typecheck.scope_of(edition.inputs.specs, now=T_DATETIME)
    for d in edition.derived:
        scope[d.spec.name] = Type(typecheck.kind_of_input_type(d.spec.type), values=d.spec.enum)
    return {
        **scope,
        "coverage_start": T_DATETIME,
        "coverage_end": T_DATETIME,
        "issued_at": T_DATETIME,
    }


def read_endorsements(
    r: Reader, editions: list[Edition], policyholder_rule: str
) -> Endorsements | None:
    top = r.mapping((SECTION,), {"risk", "policyholder", "refuse"})
    if top is None:
        return None
    risk = _names(r, (SECTION, "risk"))
    holder = _names(r, (SECTION, "policyholder"))
    for i, name in enumerate(holder):
        if name not in ENDORSABLE_HOLDER_FIELDS:
            r.fail(
                (SECTION, "policyholder", i),
                f"{name!r} cannot change; one of: {', '.join(ENDORSABLE_HOLDER_FIELDS)}",
            )
    if holder and policyholder_rule == "none":
        r.fail((SECTION, "policyholder"), "the product takes no policyholder")
    if not risk and not holder:
        r.fail((SECTION,), "name what may change: risk (inputs) or policyholder (name, phone)")
    for edition in editions:
        inputs = {s.name for s in edition.inputs.specs}
        for i, name in enumerate(risk):
            if name not in inputs:
                r.fail((SECTION, "risk", i), f"{name!r} is not an input of edition {edition.id}")
    rules: list[EndorsementRule] = []
    codes: set[str] = set()
    for i, _ in enumerate(r.items((SECTION, "refuse"))):
        path = (SECTION, "refuse", i)
        if r.mapping(path, {"code", "when", "message"}, {"code", "when", "message"}) is None:
            continue
        code = r.text((*path, "code"))
        if code in codes:
            r.fail((*path, "code"), f"duplicate reason code {code!r}")
        codes.add(code)
        compiled = _per_edition(r, (*path, "when"), editions)
        if code and compiled is not None:
            rules.append(EndorsementRule(code, r.text((*path, "message")), compiled))
    return Endorsements(tuple(risk), tuple(holder), tuple(rules))


def _names(r: Reader, path: tuple[str, ...]) -> list[str]:
    names = r.items(path)
    if not all(isinstance(n, str) for n in names):
        r.fail(path, "must list names")
        return []
    if len(set(names)) != len(names):
        r.fail(path, "names a field twice")
    return list(names)


def _per_edition(
    r: Reader, path: tuple[Any, ...], editions: list[Edition]
) -> dict[str, Any] | None:
    """The rule compiled for each edition; one error per problem, not one per edition."""
    compiled = {}
    seen: set[str] = set()
    for edition in editions:
        scratch = Reader(r.doc, Collect())
        scratch.currency = edition.currency
        expr = scratch.expression(path, edition_scope(edition), edition.timezone, BOOL)
        for error in scratch.out.errors:
            if error.message not in seen:
                seen.add(error.message)
                r.out.add(error)
        if expr is not None:
            compiled[edition.id] = expr
    return None if seen else compiled
