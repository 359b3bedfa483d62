"""Identifier inputs: values that name the insured thing (an order, a parcel) instead of
describing its risk. product.yaml lists them under `identifiers:`.

An identifier is never read by an edition's pricing (its derived values, eligibility,
cover, benefits and rating), so a book may carry a keyed hash in its place: an exported
book does (services/book_export.py), and the actuarial jobs price it with a stand-in that
every edition accepts, which gives the very premium the real value gave.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from .errors import InputError
from .expressions import Expression
from .model import Edition
from .tables import BandTable, ExactTable, ValueTable

#: the parts of an edition that price a risk (claim and refund rules may read anything)
PRICING_PARTS = ("derived", "eligibility", "coverage_starts", "coverage_ends", "benefits", "rating")


def names_read(value: Any) -> set[str]:
    """Every name an expression or a table key reads, anywhere within `value`."""
    if isinstance(value, Expression):
        return set(value.names)
    if isinstance(value, ExactTable | ValueTable):
        return set(value.keys)
    if isinstance(value, BandTable):
        return {value.key}
    if isinstance(value, list | tuple):
        return set().union(*(names_read(v) for v in value)) if value else set()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return names_read([getattr(value, f.name) for f in dataclasses.fields(value)])
    return set()


def priced_on(edition: Edition) -> set[str]:
    """The names an edition's pricing reads."""
    return names_read([getattr(edition, part) for part in PRICING_PARTS])


def problems(identifiers: Iterable[str], editions: Iterable[Edition]) -> list[str]:
    """Why `identifiers` cannot be the product's: a name no edition has, an input that is
    not a string, or one an edition's pricing reads."""
    out: list[str] = []
    editions = list(editions)
    for name in identifiers:
        having = [e for e in editions if name in e.inputs.by_name]
        if not having:
            out.append(f"{name!r} is not an input of any edition")
        for edition in having:
            if edition.inputs.by_name[name].type != "string":
                out.append(f"{name!r} is not a string input in edition {edition.id}")
            elif name in priced_on(edition):
                out.append(
                    f"{name!r} is read by the pricing of edition {edition.id}: an identifier "
                    "names the insured thing and is never priced on"
                )
    return out


def stand_ins(identifiers: Iterable[str], editions: Iterable[Edition]) -> dict[str, str]:
    """A value of each identifier that all `editions` having it accept: an example risk's.
    Pricing never reads it, so it prices as the hashed value's original did."""
    editions = list(editions)
    out: dict[str, str] = {}
    for name in identifiers:
        specs = [e.inputs.by_name[name] for e in editions if name in e.inputs.by_name]
        examples = [e.example_risk.get(name) for e in editions]
        for example in examples:
            if isinstance(example, str) and _accepted(specs, name, example):
                out[name] = example
                break
        else:
            if specs:
                raise LookupError(
                    f"no example risk of {', '.join(e.ref for e in editions)} gives a value "
                    f"of {name!r} that all of them accept"
                )
    return out


def _accepted(specs: list[Any], name: str, value: str) -> bool:
    try:
        for spec in specs:
            spec.parse(value, name)
    except InputError:
        return False
    return True
