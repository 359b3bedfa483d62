"""POST /v1/quotes: price a risk and hold the price until expires_at."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from policy_service.presentation import render
from policy_service.services import metrics
from policy_service.services.quotes import create_quote
from policy_service.services.unit_of_work import Tx

from .context import caller, services
from .docs import IDEMPOTENCY_PARAM, errors
from .idempotency import run_idempotent
from .schemas import QuoteRequestSchema, QuoteSchema

blp = Blueprint("quotes", __name__, url_prefix="/v1/quotes", description="Quotes")


@blp.route("")
class Quotes(MethodView):
    @blp.arguments(QuoteRequestSchema())
    @blp.response(201, QuoteSchema)
    @blp.doc(parameters=[IDEMPOTENCY_PARAM])
    @errors(blp, 400, 403, 413, 422)
    def post(self, body: dict[str, Any]) -> Response:
        """Quote a risk: itemised premium, worksheet, coverage, refund terms"""
        who = caller("quotes:write")
        svc = services()
        now = svc.clock()

        made: list[str] = []

        def work(tx: Tx) -> tuple[int, dict[str, Any]]:
            quote = create_quote(
                tx, who, svc.catalog, body["product"], body["risk"], body.get("external_ref"), now
            )
            made.append(quote.product_code)
            return 201, render.quote(quote, svc.catalog.edition(quote.product_code, quote.edition))

        response = run_idempotent(who, work)
        if response.status_code == 201 and made:  # committed, not a replay
            metrics.quoted(made[0], who.livemode)
        return response
