"""Events (GET /v1/events), their webhook deliveries, and resending them."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from policy_service.presentation import render
from policy_service.services import webhooks
from policy_service.services.unit_of_work import Tx

from .context import caller, services
from .docs import IDEMPOTENCY_PARAM, errors
from .idempotency import ok, run_idempotent
from .schemas import (
    DeliveryListSchema,
    EventListArgsSchema,
    EventListSchema,
    EventSchema,
    ResendRequestSchema,
)

blp = Blueprint(
    "events", __name__, url_prefix="/v1/events", description="Events and their delivery"
)


@blp.route("")
class Events(MethodView):
    @blp.arguments(EventListArgsSchema(), location="query")
    @blp.response(200, EventListSchema)
    @errors(blp, 400, 403)
    def get(self, args: dict[str, Any]) -> Response:
        """List events, newest first; filter by type and object id"""
        who = caller("events:read")
        svc = services()
        rows, has_more = webhooks.list_events(
            svc.uow,
            who,
            args["limit"],
            args.get("starting_after"),
            args.get("type"),
            args.get("object"),
            svc.render_policy,
        )
        return ok(render.page([render.event(r) for r in rows], has_more, "/v1/events"))


@blp.route("/<event_id>")
class EventById(MethodView):
    @blp.response(200, EventSchema)
    @errors(blp, 403, 404)
    def get(self, event_id: str) -> Response:
        """An event: its type and the object as it was after the change"""
        who = caller("events:read")
        svc = services()
        return ok(render.event(webhooks.get_event(svc.uow, who, event_id, svc.render_policy)))


@blp.route("/<event_id>/deliveries")
class EventDeliveries(MethodView):
    @blp.response(200, DeliveryListSchema)
    @errors(blp, 403, 404)
    def get(self, event_id: str) -> Response:
        """Webhook deliveries of an event, with every attempt (status, latency, error, next retry)"""
        who = caller("events:read")
        views = webhooks.deliveries(services().uow, who, event_id)
        return ok(
            render.page(
                [render.delivery(v) for v in views], False, f"/v1/events/{event_id}/deliveries"
            )
        )


@blp.route("/<event_id>/resend")
class EventResend(MethodView):
    @blp.arguments(ResendRequestSchema())
    @blp.response(200, DeliveryListSchema)
    @blp.doc(parameters=[IDEMPOTENCY_PARAM])
    @errors(blp, 400, 403, 404)
    def post(self, body: dict[str, Any], event_id: str) -> Response:
        """Deliver an event again now (to one endpoint, or to every subscribed one)"""
        who = caller("webhooks:write")
        svc = services()

        def work(tx: Tx) -> tuple[int, dict[str, Any]]:
            views = webhooks.resend(tx, who, event_id, body.get("endpoint"), svc.clock())
            url = f"/v1/events/{event_id}/deliveries"
            return 200, render.page([render.delivery(v) for v in views], False, url)

        return run_idempotent(who, work)
