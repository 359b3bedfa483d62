"""Policies: issue (one or a batch), read, list, cancel."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from policy_service.adapters.db import LazyConnection
from policy_service.domain.errors import InvalidRequest, ServiceError
from policy_service.domain.records import Caller, Policy
from policy_service.services import cancellation, payments
from policy_service.services import policies as svc_policies
from policy_service.services.payments import check_payment_method
from policy_service.services.policies import (
    Envelope,
    IssueItem,
    IssueResult,
    Outcome,
    dumps,
    fingerprint,
)

from . import render
from .context import Services, caller, services
from .docs import IDEMPOTENCY_PARAM, errors
from .errors import error_body
from .idempotency import (
    idempotency_key,
    json_response,
    ok,
    request_fingerprint,
    run_idempotent,
    stored_response,
)
from .schemas import (
    BatchRequestSchema,
    BatchResponseSchema,
    CancelRequestSchema,
    IssueRequestSchema,
    PolicyListArgsSchema,
    PolicyListSchema,
    PolicySchema,
)

blp = Blueprint("policies", __name__, url_prefix="/v1/policies", description="Policies")


def _render_policy(svc: Services, policy: Policy) -> dict[str, Any]:
    return render.policy(policy, svc.catalog.edition(policy.product_code, policy.edition))


def _prepare(
    read: LazyConnection,
    svc: Services,
    who: Caller,
    body: Any,
    index: int,
    key: str | None,
    prefix: str = "",
) -> IssueItem:
    item = IssueItem(index, key, fingerprint("POST", "/v1/policies", body) if key else None)
    try:
        if not isinstance(body, dict):
            raise InvalidRequest("must be an object", param=prefix.rstrip(".") or None)
        item.draft = svc_policies.prepare_issue(
            read, who, svc.catalog, body, svc.config.pii_hash_key, svc.clock(), prefix
        )
    except ServiceError as err:
        item.error = err
    return item


def _issue(
    svc: Services, who: Caller, items: list[IssueItem], envelope: Envelope | None = None
) -> IssueResult:
    return svc_policies.issue_many(
        svc.engine,
        who,
        items,
        render_ok=lambda p: (201, _render_policy(svc, p)),
        render_error=error_body,
        now=svc.clock(),
        settlement_timezone=svc.config.settlement_timezone,
        envelope=envelope,
    )


@blp.route("")
class Policies(MethodView):
    @blp.arguments(IssueRequestSchema)
    @blp.response(201, PolicySchema)
    @blp.doc(parameters=[IDEMPOTENCY_PARAM])
    @errors(blp, 400, 403, 404, 409, 413, 422)
    def post(self, _body: dict[str, Any]) -> Response:
        """Issue a policy, from a quote or directly from a risk"""
        who = caller("policies:write")
        svc = services()
        key = idempotency_key()
        raw = request.get_json()
        body = dict(raw) if isinstance(raw, dict) else raw  # the cached request body stays whole
        stripe = who.billing_mode == "stripe"
        if stripe:
            if key is None:
                raise InvalidRequest(
                    "stripe-billed issues need an Idempotency-Key, so that a retry after an "
                    "outage can never charge twice",
                    param="Idempotency-Key",
                )
            fp = fingerprint("POST", "/v1/policies", raw)
            if stored_response(who, key) is not None:
                # A retry: replay its answer or resume its payment, whatever the request
                # would validate to now (the flight may have left meanwhile).
                return json_response(payments.resume(svc.billing(), who, key, fp, svc.clock()))
        payment_method = None
        if stripe or (isinstance(body, dict) and "payment_method" in body):
            payment_method = check_payment_method(
                body.pop("payment_method", None) if isinstance(body, dict) else None, who
            )
        # The read connection is closed before the write transaction opens (SQLite has one writer).
        with LazyConnection(svc.engine) as read:
            item = _prepare(read, svc, who, body, 0, key)
        if key is not None:
            # The fingerprint covers the whole request, payment method included.
            item.fingerprint = fingerprint("POST", "/v1/policies", raw)
        if payment_method is not None and item.draft is not None:
            return json_response(
                payments.issue_and_charge(svc.billing(), who, item, payment_method, svc.clock())
            )
        [outcome] = _issue(svc, who, [item]).outcomes
        return json_response(outcome)

    @blp.arguments(PolicyListArgsSchema, location="query")
    @blp.response(200, PolicyListSchema)
    @errors(blp, 400, 403)
    def get(self, args: dict[str, Any]) -> Response:
        """List policies, newest first, with cursor pagination"""
        who = caller("policies:read")
        svc = services()
        with svc.engine.connect() as conn:
            page, has_more = svc_policies.list_policies(
                conn,
                who,
                args["limit"],
                args.get("starting_after"),
                args.get("external_ref"),
                args.get("status"),
                args.get("product"),
            )
        return ok(render.page([_render_policy(svc, p) for p in page], has_more, "/v1/policies"))


@blp.route("/batch")
class PolicyBatch(MethodView):
    @blp.arguments(BatchRequestSchema)
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
            fp = request_fingerprint()
            stored = stored_response(who, BATCH_KEY_PREFIX + key)
            if stored is not None:
                return json_response(svc_policies.replay_stored(stored, fp))
            envelope = Envelope(
                BATCH_KEY_PREFIX + key, fp, lambda outcomes: (200, _batch_body(outcomes))
            )
        result = _run_batch(svc, who, request.get_json()["items"], envelope)
        return json_response(result.envelope or Outcome(200, dumps(_batch_body(result.outcomes))))


#: batch keys live beside item keys (which are single-issue keys) without colliding
BATCH_KEY_PREFIX = "batch:"


def _run_batch(
    svc: Services, who: Caller, raw_items: list[Any], envelope: Envelope | None
) -> IssueResult:
    items: list[IssueItem] = []
    with LazyConnection(svc.engine) as read:
        for i, raw in enumerate(raw_items):
            prefix = f"items[{i}]."
            key = None
            if isinstance(raw, dict) and "idempotency_key" in raw:
                raw = dict(raw)
                key = raw.pop("idempotency_key")
                if not isinstance(key, str) or not 1 <= len(key) <= 255:
                    err = InvalidRequest(
                        "must be 1 to 255 characters", param=f"{prefix}idempotency_key"
                    )
                    items.append(IssueItem(i, error=err))
                    continue
            items.append(_prepare(read, svc, who, raw, i, key, prefix))
    svc_policies.mark_batch_duplicates(items)
    return _issue(svc, who, items, envelope)


def _batch_body(outcomes: list[Outcome]) -> dict[str, Any]:
    results = []
    issued = 0
    for index, outcome in enumerate(outcomes):
        body = json.loads(outcome.body)
        result: dict[str, Any] = {
            "index": index,
            "status": outcome.status,
            "replayed": outcome.replayed,
        }
        if outcome.status < 300:
            result["policy"] = body
            issued += 1
        else:
            result["error"] = body["error"]
        results.append(result)
    return {
        "object": "batch_result",
        "results": results,
        "issued": issued,
        "failed": len(outcomes) - issued,
    }


@blp.route("/<policy_id>")
class PolicyById(MethodView):
    @blp.response(200, PolicySchema)
    @errors(blp, 403, 404)
    def get(self, policy_id: str) -> Response:
        """A policy with its premium worksheet"""
        who = caller("policies:read")
        svc = services()
        with svc.engine.connect() as conn:
            return ok(_render_policy(svc, svc_policies.get_policy(conn, who, policy_id)))


@blp.route("/<policy_id>/cancel")
class PolicyCancel(MethodView):
    @blp.arguments(CancelRequestSchema)
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

        refunds: list[str] = []

        def work(conn: sa.Connection) -> tuple[int, dict[str, Any]]:
            policy, pending_refund = cancellation.cancel_policy(
                svc.claims(), conn, who, policy_id, body["reason"], svc.clock()
            )
            if pending_refund:
                refunds.append(pending_refund)
            return 200, _render_policy(svc, policy)

        response = run_idempotent(who, work)
        for refund_id in refunds:
            # After the commit: an outage leaves it pending for the worker, never lost.
            payments.refund_now(svc.billing(), refund_id, svc.clock())
        return response
