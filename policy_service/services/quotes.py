"""Quote a risk: price it on the edition in force and hold the price until it expires."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from policy_service.domain.errors import InvalidRequest
from policy_service.domain.ids import new_id
from policy_service.domain.records import Caller, Quote

from .catalog import ProductCatalog
from .rating import edition_in_force, parse_risk, premium_of, price_risk, product_on_sale
from .unit_of_work import Tx


def check_external_ref(value: Any, required: bool, param: str = "external_ref") -> str | None:
    if value is None:
        if required:
            raise InvalidRequest("is required: your order or booking id", param=param)
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise InvalidRequest("must be 1 to 200 characters", param=param)
    return value


def create_quote(
    tx: Tx,
    caller: Caller,
    catalog: ProductCatalog,
    product_code: Any,
    raw_risk: Any,
    external_ref: Any,
    now: datetime,
) -> Quote:
    product = product_on_sale(catalog, product_code)
    edition = edition_in_force(product, now)
    risk = parse_risk(edition, raw_risk)
    ref = check_external_ref(external_ref, required=False)
    priced = price_risk(edition, risk, now)
    assert priced.coverage_start is not None and priced.coverage_end is not None
    quote = Quote(
        id=new_id("qt"),
        partner_id=caller.partner_id,
        livemode=caller.livemode,
        product_code=product.code,
        edition=edition.id,
        content_hash=edition.content_hash,
        external_ref=ref,
        risk=edition.inputs.to_json(risk),
        premium=premium_of(priced),
        worksheet=priced.worksheet,
        coverage_start=priced.coverage_start,
        coverage_end=priced.coverage_end,
        expires_at=now + timedelta(minutes=edition.quote_valid_minutes),
        created_at=now,
    )
    tx.quotes.insert(quote)
    return quote
