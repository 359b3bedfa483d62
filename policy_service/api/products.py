"""GET /v1/products: what is on sale, with each risk's JSON Schema and a working example."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from policy_service.domain.errors import NotFound
from policy_service.presentation import api_language, render
from policy_service.presentation.endorsements import endorsable

from .context import caller, services
from .docs import errors
from .idempotency import ok
from .schemas import ProductListSchema, ProductSchema

blp = Blueprint("products", __name__, url_prefix="/v1/products", description="Products on sale")


def _view(code: str) -> dict[str, Any]:
    svc = services()
    product = svc.catalog.get(code)
    if product is None:
        raise NotFound(f"no product {code!r}")
    now = svc.clock()
    view = render.product(product, product.edition_at(now), now) | {
        "endorsements": endorsable(product)
    }
    if api_language.chosen(request.accept_languages) == "zh":
        return api_language.product_in_zh(
            view, product.name_zh, product.description_zh, product.messages_zh
        )
    return view


@blp.route("")
class Products(MethodView):
    @blp.response(200, ProductListSchema)
    @errors(blp, 403)
    def get(self) -> Response:
        """List the products on sale"""
        caller("products:read")
        svc = services()
        data = [_view(p.code) for p in svc.catalog.all()]
        return ok(render.page(data, False, "/v1/products"))


@blp.route("/<code>")
class ProductByCode(MethodView):
    @blp.response(200, ProductSchema)
    @errors(blp, 403, 404)
    def get(self, code: str) -> Response:
        """A product: current edition, risk JSON Schema, example risk, terms"""
        caller("products:read")
        return ok(_view(code))
