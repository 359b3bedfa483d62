"""Endorsements: change a policy after issue, as its product allows; list its changes."""

from __future__ import annotations

import json
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from policy_service.domain.errors import InvalidRequest
from policy_service.domain.records import Caller, Endorsement, Policy
from policy_service.presentation import render
from policy_service.presentation.endorsements import endorsement
from policy_service.services import endorsements, metrics, payments
from policy_service.services.idempotency import stored_response
from policy_service.services.unit_of_work import Tx

from .context import caller, services
from .docs import IDEMPOTENCY_PARAM, errors
from .idempotency import (
    idempotency_key,
    json_response,
    ok,
    request_fingerprint,
    run_idempotent,
)
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
    @errors(blp, 400, 402, 403, 404, 409, 422, 503)
    def post(self, body: dict[str, Any], policy_id: str) -> Response:
        """Change a policy: the risk inputs and policyholder details its product lets change
        (GET /v1/products/{code} `endorsements`), until the product's deadline. The new
        risk is priced on the policy's edition at the policy's pricing time. The premium
        difference: partner-settled, booked on the statement; stripe billing (an
        Idempotency-Key is required), a dearer change is charged to `payment_method` (by
        default the premium's card) before it is made (402 card_error: nothing changed;
        503: retry with the same key), a cheaper one refunded after it. Refused with the product's code after its
        deadline, 409 claim_exists once a claim is on the policy, 422 duplicate_cover when
        another policy covers the new risk. The keys trigger reports find the policy by move
        with it: a report on the old flight no longer pays, one on the new flight does."""
        who = caller("policies:write")
        svc = services()
        if who.billing_mode == "stripe":
            return _endorse_and_charge(who, policy_id, body)
        if "payment_method" in body:
            raise InvalidRequest(
                "this partner is billed by settlement; premiums are not charged here",
                param="payment_method",
            )
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


def _endorse_and_charge(who: Caller, policy_id: str, body: dict[str, Any]) -> Response:
    """Stripe billing: the difference is charged (before the change) or refunded (after)."""
    svc = services()
    key = idempotency_key()
    if key is None:
        raise InvalidRequest(
            "stripe-billed endorsements need an Idempotency-Key, so that a retry after an "
            "outage can never charge twice",
            param="Idempotency-Key",
        )
    fp = request_fingerprint()
    billing = svc.billing()
    if stored_response(svc.uow, who, key) is not None:
        # A retry: replay its answer or resume its charge.
        return json_response(payments.resume(billing, who, key, fp, svc.clock()))
    outcome = payments.endorse_and_charge(billing, who, key, fp, policy_id, body, svc.clock())
    if outcome.status == 201 and not outcome.replayed:
        metrics.endorsed(json.loads(outcome.body)["policy"]["product"], who.livemode)
    return json_response(outcome)
