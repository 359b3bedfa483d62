"""Self-serve webhook endpoints: create (the secret is shown once), list, update, delete,
rotate the signing secret (the old one keeps signing for 24 hours)."""

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
    PageArgsSchema,
    WebhookEndpointCreateSchema,
    WebhookEndpointListSchema,
    WebhookEndpointSchema,
    WebhookEndpointUpdateSchema,
)

blp = Blueprint(
    "webhook_endpoints",
    __name__,
    url_prefix="/v1/webhook-endpoints",
    description="Webhook endpoints",
)


@blp.route("")
class Endpoints(MethodView):
    @blp.arguments(WebhookEndpointCreateSchema())
    @blp.response(201, WebhookEndpointSchema)
    @blp.doc(parameters=[IDEMPOTENCY_PARAM])
    @errors(blp, 400, 403)
    def post(self, body: dict[str, Any]) -> Response:
        """Create an endpoint; the answer carries its signing secret, this once (a replay of
        the same Idempotency-Key answers the endpoint without it: rotate for a new one)"""
        who = caller("webhooks:write")
        svc = services()

        def work(tx: Tx) -> tuple[int, dict[str, Any]]:
            row = webhooks.create_endpoint(
                tx, who, body["url"], body["events"], body.get("description"), svc.clock()
            )
            return 201, render.webhook_endpoint(row, with_secret=True)

        # the secret lives in the endpoint's record only, never in the Idempotency-Key's
        return run_idempotent(who, work, stored_as=render.without_secret)

    @blp.arguments(PageArgsSchema(), location="query")
    @blp.response(200, WebhookEndpointListSchema)
    @errors(blp, 400, 403)
    def get(self, args: dict[str, Any]) -> Response:
        """List endpoints, newest first"""
        who = caller("webhooks:write")
        rows, has_more = webhooks.list_endpoints(
            services().uow, who, args["limit"], args.get("starting_after")
        )
        return ok(
            render.page(
                [render.webhook_endpoint(r) for r in rows], has_more, "/v1/webhook-endpoints"
            )
        )


@blp.route("/<endpoint_id>")
class EndpointById(MethodView):
    @blp.response(200, WebhookEndpointSchema)
    @errors(blp, 403, 404)
    def get(self, endpoint_id: str) -> Response:
        """An endpoint (without its secret)"""
        who = caller("webhooks:write")
        return ok(render.webhook_endpoint(webhooks.get_endpoint(services().uow, who, endpoint_id)))

    @blp.arguments(WebhookEndpointUpdateSchema())
    @blp.response(200, WebhookEndpointSchema)
    @blp.doc(parameters=[IDEMPOTENCY_PARAM])
    @errors(blp, 400, 403, 404)
    def post(self, changes: dict[str, Any], endpoint_id: str) -> Response:
        """Update url, events, description, or disabled (true/false)"""
        who = caller("webhooks:write")
        svc = services()

        def work(tx: Tx) -> tuple[int, dict[str, Any]]:
            row = webhooks.update_endpoint(tx, who, endpoint_id, changes, svc.clock())
            return 200, render.webhook_endpoint(row)

        return run_idempotent(who, work)

    @blp.response(200, WebhookEndpointSchema)
    @errors(blp, 403, 404)
    def delete(self, endpoint_id: str) -> Response:
        """Delete an endpoint: nothing more is sent to it; its delivery log stays"""
        who = caller("webhooks:write")
        svc = services()
        row = webhooks.delete_endpoint(svc.uow, who, endpoint_id, svc.clock())
        return ok({**render.webhook_endpoint(row), "status": "disabled", "deleted": True})


@blp.route("/<endpoint_id>/rotate-secret")
class EndpointRotate(MethodView):
    @blp.response(200, WebhookEndpointSchema)
    @blp.doc(parameters=[IDEMPOTENCY_PARAM])
    @errors(blp, 403, 404)
    def post(self, endpoint_id: str) -> Response:
        """New signing secret; the old one keeps signing (a second v1) for 24 hours"""
        who = caller("webhooks:write")
        svc = services()

        def work(tx: Tx) -> tuple[int, dict[str, Any]]:
            row = webhooks.rotate_secret(tx, who, endpoint_id, svc.clock())
            return 200, render.webhook_endpoint(row, with_secret=True)

        return run_idempotent(who, work, stored_as=render.without_secret)
