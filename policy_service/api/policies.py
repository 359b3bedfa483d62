"""Policies: issue (one or a batch), read, list, cancel."""

from __future__ import annotations

import json
from typing import Any

import orjson
from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from policy_service.domain.errors import InvalidRequest
from policy_service.domain.policyholder import holder_match
from policy_service.domain.records import Policy
from policy_service.presentation import render
from policy_service.services import (
    batch_envelope,
    cancellation,
    claim_queries,
    issue_transaction,
    issuing,
    metrics,
    payments,
    refunds,
)
from policy_service.services import policies as svc_policies
from policy_service.services.batch_envelope import Envelope
from policy_service.services.billing import check_payment_method
from policy_service.services.idempotency import (
    Outcome,
    dumps,
    fingerprint,
    stored_response,
)
from policy_service.services.unit_of_work import Tx

from .context import Services, caller, services
from .docs import IDEMPOTENCY_PARAM, errors
from .idempotency import (
    idempotency_key,
    json_response,
    ok,
    request_fingerprint,
    run_idempotent,
)
from .schemas import (
    BatchRequestSchema,
    BatchResponseSchema,
    CancelRequestSchema,
    IssueRequestSchema,
    PolicyGetArgsSchema,
    PolicyListArgsSchema,
    PolicyListSchema,
    PolicySchema,
)

blp = Blueprint("policies", __name__, url_prefix="/v1/policies", description="Policies")


def _render_policy(svc: Services, policy: Policy) -> dict[str, Any]:
    return svc.render_policy(policy)


@blp.route("")
class Policies(MethodView):
    @blp.arguments(IssueRequestSchema())
    @blp.response(201, PolicySchema)
    @blp.doc(parameters=[IDEMPOTENCY_PARAM])
    @errors(blp, 400, 402, 403, 404, 409, 413, 422, 503)
    def post(self, parsed: dict[str, Any]) -> Response:
        """Issue a policy, from a quote or directly from a risk"""
        who = caller("policies:write")
        svc = services()
        key = idempotency_key()
        body = dict(parsed)  # the payment method is taken out; the fingerprint keeps it
        stripe = who.billing_mode == "stripe"
        if stripe:
            if key is None:
                raise InvalidRequest(
                    "stripe-billed issues need an Idempotency-Key, so that a retry after an "
                    "outage can never charge twice",
                    param="Idempotency-Key",
                )
            fp = fingerprint("POST", "/v1/policies", parsed)
            if stored_response(svc.uow, who, key) is not None:
                # A retry: replay its answer or resume its payment, whatever the request
                # would validate to now (the flight may have left meanwhile).
                return json_response(payments.resume(svc.billing(), who, key, fp, svc.clock()))
        payment_method = None
        if stripe or "payment_method" in body:
            payment_method = check_payment_method(body.pop("payment_method", None), who)
        item = issuing.prepare_one(svc.issuing(), who, body, key)
        if key is not None:
            # The fingerprint covers the whole request, payment method included.
            item.fingerprint = fingerprint("POST", "/v1/policies", parsed)
        if payment_method is not None and item.draft is not None:
            return json_response(
                payments.issue_and_charge(svc.billing(), who, item, payment_method, svc.clock())
            )
        [outcome] = issue_transaction.issue_many(svc.issuing(), who, [item]).outcomes
        return json_response(outcome)

    @blp.arguments(PolicyListArgsSchema(), location="query")
    @blp.response(200, PolicyListSchema)
    @errors(blp, 400, 403)
    def get(self, args: dict[str, Any]) -> Response:
        """List policies, newest first, with cursor pagination; filters combine. A person's
        policies of every product: policyholder_id_number (matched through its keyed
        hash), policyholder_phone, policyholder_name."""
        who = caller("policies:read")
        svc = services()
        holder = holder_match(
            svc.config.pii_hash_key,
            args.get("policyholder_id_number"),
            args.get("policyholder_id_type"),
            args.get("policyholder_phone"),
            args.get("policyholder_name"),
        )
        page, has_more = svc_policies.list_policies(
            svc.uow,
            who,
            args["limit"],
            args.get("starting_after"),
            args.get("external_ref"),
            args.get("status"),
            args.get("product"),
            holder,
        )
        return ok(render.page([_render_policy(svc, p) for p in page], has_more, "/v1/policies"))


@blp.route("/batch")
class PolicyBatch(MethodView):
    @blp.arguments(BatchRequestSchema())
    @blp.response(200, BatchResponseSchema)
    @blp.doc(parameters=[IDEMPOTENCY_PARAM])
    @errors(blp, 400, 403, 413)
    def post(self, body: dict[str, Any]) -> Response:
        """Issue up to 1,000 policies: one result per item; valid items are issued even when
        others fail. Each item may carry its own idempotency_key."""
        who = caller("policies:write")
        svc = services()
        if who.billing_mode == "stripe":
            raise InvalidRequest(
                "batch issue is for partner-settled billing; stripe-billed partners issue one "
                "policy per request (each premium is charged before it is active)",
                code="batch_not_available",
            )
        # The batch's own key replays the whole answer; per-item keys protect each item.
        key = idempotency_key()
        envelope = None
        if key is not None:
            envelope = Envelope(
                BATCH_KEY_PREFIX + key,
                request_fingerprint(),
                lambda outcomes: (200, _batch_body(outcomes)),
            )
            replayed = batch_envelope.replayed(svc.uow, who, envelope, svc.render_policy)
            if replayed is not None:
                return json_response(replayed)
        items = issuing.prepare_batch(svc.issuing(), who, body["items"])
        result = issue_transaction.issue_many(svc.issuing(), who, items, envelope)
        return json_response(result.envelope or Outcome(200, dumps(_batch_body(result.outcomes))))


#: batch keys live beside item keys (which are single-issue keys) without colliding
BATCH_KEY_PREFIX = "batch:"


def _batch_body(outcomes: list[Outcome]) -> dict[str, Any]:
    results = []
    issued = 0
    for index, outcome in enumerate(outcomes):
        result: dict[str, Any] = {
            "index": index,
            "status": outcome.status,
            "replayed": outcome.replayed,
        }
        if outcome.status < 300:
            # already JSON: embedded as it is, not parsed and encoded again (dumps is orjson)
            result["policy"] = orjson.Fragment(outcome.body)
            issued += 1
        else:
            result["error"] = json.loads(outcome.body)["error"]
        results.append(result)
    return {
        "object": "batch_result",
        "results": results,
        "issued": issued,
        "failed": len(outcomes) - issued,
    }


@blp.route("/<policy_id>")
class PolicyById(MethodView):
    @blp.arguments(PolicyGetArgsSchema(), location="query")
    @blp.response(200, PolicySchema)
    @errors(blp, 400, 403, 404)
    def get(self, args: dict[str, Any], policy_id: str) -> Response:
        """A policy with its premium worksheet; ?expand=claims adds its claims"""
        who = caller("policies:read")
        svc = services()
        if "claims" not in args.get("expand", []):
            return ok(_render_policy(svc, svc_policies.get_policy(svc.uow, who, policy_id)))
        caller("claims:read")
        policy, found = claim_queries.policy_with_claims(svc.uow, who, policy_id)
        return ok({**_render_policy(svc, policy), "claims": [render.claim(c) for c in found]})


@blp.route("/<policy_id>/cancel")
class PolicyCancel(MethodView):
    @blp.arguments(CancelRequestSchema())
    @blp.response(200, PolicySchema)
    @blp.doc(parameters=[IDEMPOTENCY_PARAM])
    @errors(blp, 400, 403, 404, 409, 422)
    def post(self, body: dict[str, Any], policy_id: str) -> Response:
        """Cancel a policy: the product's refund rule decides the refund. Nothing is refunded
        once a claim on the policy is approved or paid; while a claim is open the cancel is
        refused (409 claim_in_review, naming the claim) unless the product rejects the
        claim instead (`cancel_while_claim_open: reject_claim`)."""
        who = caller("policies:write")
        svc = services()

        pending: list[str] = []
        cancelled: list[str] = []

        def work(tx: Tx) -> tuple[int, dict[str, Any]]:
            policy, pending_refund = cancellation.cancel_policy(
                svc.claims(), tx, who, policy_id, body["reason"], svc.clock()
            )
            if pending_refund:
                pending.append(pending_refund)
            cancelled.append(policy.product_code)
            return 200, _render_policy(svc, policy)

        response = run_idempotent(who, work)
        if response.status_code == 200 and cancelled:  # committed, not a replay
            metrics.cancelled(cancelled[0], who.livemode)
        for refund_id in pending:
            # After the commit: an outage leaves it pending for the worker, never lost.
            refunds.refund_now(svc.billing(), refund_id, svc.clock())
        return response
