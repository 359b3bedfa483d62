"""Endorsements: change a policy after issue, as its product allows; list its changes."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from policy_service.domain.records import Endorsement, Policy
from policy_service.presentation import render
from policy_service.presentation.endorsements import endorsement
from policy_service.services import endorsements, metrics
from policy_service.services.unit_of_work import Tx

from .context import caller, services
from .docs import IDEMPOTENCY_PARAM, errors
from .idempotency import ok, run_idempotent
from .schemas import EndorsementListSchema, EndorsementRequestSchema, EndorsementSchema

blp = Blueprint(
    "endorsements",
    __name__,
    url_prefix="/v1/policies",
    description="Endorsements: a policy changed after issue",
)


@blp.route("/<policy_id>/endorsements")
class PolicyEndorsements(MethodView):
    @blp.arguments(EndorsementRequestSchema())
    @blp.response(201, EndorsementSchema)
    @blp.doc(parameters=[IDEMPOTENCY_PARAM])
    @errors(blp, 400, 403, 404, 409, 422)
    def post(self, body: dict[str, Any], policy_id: str) -> Response:
        """Change a policy: the risk inputs and policyholder details its product lets change
        (GET /v1/products/{code} `endorsements`), until the product's deadline. The new
        risk is priced on the policy's edition at the policy's pricing time; the premium
        difference is booked on the statement. Refused with the product's code after its
        deadline, 409 claim_exists once a claim is on the policy, 422 duplicate_cover when
        another policy covers the new risk. The keys trigger reports find the policy by move
        with it: a report on the old flight no longer pays, one on the new flight does."""
        who = caller("policies:write")
        svc = services()
        done: list[str] = []

        def view(e: Endorsement, policy: Policy) -> dict[str, Any]:
            return endorsement(e, svc.render_policy(policy))

        def work(tx: Tx) -> tuple[int, dict[str, Any]]:
            e, policy = endorsements.endorse(
                svc.catalog,
                tx,
                who,
                policy_id,
                body,
                svc.clock(),
                svc.config.settlement_timezone,
                view,
            )
            done.append(policy.product_code)
            return 201, view(e, policy)

        response = run_idempotent(who, work)
        if done:  # committed, not a replay
            metrics.endorsed(done[0], who.livemode)
        return response

    @blp.response(200, EndorsementListSchema)
    @errors(blp, 403, 404)
    def get(self, policy_id: str) -> Response:
        """A policy's endorsements, oldest first (the first one's `before` is the policy as
        issued)"""
        who = caller("policies:read")
        found = endorsements.list_endorsements(services().uow, who, policy_id)
        data = [endorsement(e) for e in found]
        return ok(render.page(data, False, f"/v1/policies/{policy_id}/endorsements"))
