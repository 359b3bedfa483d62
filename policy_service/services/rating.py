"""Calling the pricing library from a use case: its errors become service errors."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from policy_service.domain.errors import BusinessRefusal, InvalidRequest, ProductDefect
from policy_service.domain.records import Premium
from pricing import engine
from pricing.engine import Priced
from pricing.errors import BreakdownError, EvaluationError, InputErrors
from pricing.model import Edition, Product

from .catalog import ProductCatalog

log = logging.getLogger(__name__)


def product_on_sale(catalog: ProductCatalog, code: Any, param: str = "product") -> Product:
    product = catalog.get(code) if isinstance(code, str) else None
    if product is None:
        known = ", ".join(p.code for p in catalog.all())
        raise InvalidRequest(
            f"no product {code!r}; on sale: {known}", param=param, code="unknown_product"
        )
    return product


def edition_in_force(product: Product, now: datetime) -> Edition:
    edition = product.edition_at(now)
    if edition is None:
        raise BusinessRefusal(
            f"product {product.code} has no published edition in force yet",
            code="product_not_in_force",
        )
    return edition


def parse_risk(edition: Edition, raw: Any, prefix: str = "risk") -> dict[str, Any]:
    try:
        return edition.inputs.parse(raw, prefix=prefix)
    except InputErrors as exc:
        first = exc.errors[0]
        raise InvalidRequest(
            first.message,
            param=first.param,
            code=first.code,
            details={
                "errors": [
                    {"param": e.param, "code": e.code, "message": e.message} for e in exc.errors
                ]
            },
        ) from None


def price_risk(edition: Edition, risk: dict[str, Any], now: datetime) -> Priced:
    """Price a parsed risk; an ineligible one is refused with every reason code."""
    try:
        priced = engine.price(edition, risk, now)
    except (EvaluationError, BreakdownError) as exc:
        log.error("product %s could not price a valid risk: %s", edition.ref, exc)
        raise ProductDefect(
            f"product {edition.ref} could not price this risk; the product team has been alerted"
        ) from None
    if not priced.eligible:
        raise BusinessRefusal(
            "; ".join(r.message for r in priced.refusals),
            code="ineligible",
            details={"reasons": [{"code": r.code, "message": r.message} for r in priced.refusals]},
        )
    return priced


def premium_of(priced: Priced) -> Premium:
    b = priced.breakdown
    assert b is not None
    return Premium(b.currency, b.total, b.net, b.tax, b.commission, b.fees)
