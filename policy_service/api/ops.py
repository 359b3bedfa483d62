"""/v1/ops: the claims review API for ops staff (staff tokens, not partner keys).

Every decision goes through services.claims.decide, the same function the ops console
calls; the audit log records who did what.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g
from flask.views import MethodView
from flask_smorest import Blueprint

from policy_service.domain.claims import Claim
from policy_service.domain.errors import PermissionDenied
from policy_service.presentation import render
from policy_service.services import claim_decisions, review
from policy_service.services import claims as svc_claims
from policy_service.services.staff import Staff

from .context import services
from .docs import errors
from .idempotency import ok
from .schemas import (
    ApproveRequestSchema,
    OpsClaimDetailSchema,
    OpsClaimListSchema,
    OpsClaimSchema,
    OpsQueueArgsSchema,
    RejectRequestSchema,
    RequestInfoSchema,
)

blp = Blueprint(
    "ops",
    __name__,
    url_prefix="/v1/ops",
    description="Claims review for ops staff: Authorization: Bearer ops_... (a staff token)",
)


def staff() -> Staff:
    found: Staff | None = g.get("staff")
    if found is None:  # pragma: no cover - the before_request hook sets it
        raise PermissionDenied("staff token required")
    return found


def _actor(who: Staff) -> svc_claims.Actor:
    return svc_claims.Actor("staff", who.id, who.role, who.email)


def _ops_claim(c: Claim) -> dict[str, Any]:
    return {
        **render.claim(c),
        "partner": c.partner_id,
        "first_approval": c.first_approval,
        "decided_by": c.decided_by,
    }


def detail(claim_id: str) -> dict[str, Any]:
    """Everything a reviewer needs to decide a claim (the console shows the same)."""
    d = review.review_detail(services().claims(), claim_id)
    return {
        "claim": _ops_claim(d.claim),
        "policy": render.policy(d.policy, d.edition),
        "payout": render.payout(d.payouts[-1]) if d.payouts else None,
        "payouts": [render.payout(p) for p in d.payouts],
        "attachments": [render.attachment(f) for f in d.attachments],
        "audit": [render.audit_entry(a) for a in d.audit],
        "related": [_ops_claim(c) for c in d.related],
        "second_approval_above": render.money(d.second_approval_above, d.claim.currency),
    }


@blp.route("/claims")
class Queue(MethodView):
    @blp.arguments(OpsQueueArgsSchema(), location="query")
    @blp.response(200, OpsClaimListSchema)
    @errors(blp, 400)
    def get(self, args: dict[str, Any]) -> Response:
        """The review queue: claims in a status (default in_review), oldest first, filtered by
        product, partner, signal, amount claimed and mode"""
        staff()
        claims, more = review.queue_claims(
            services().uow,
            review.QueueFilter.parse(args),
            args["limit"],
            args.get("starting_after"),
        )
        return ok(render.page([_ops_claim(c) for c in claims], more, "/v1/ops/claims"))


@blp.route("/claims/<claim_id>")
class OpsClaim(MethodView):
    @blp.response(200, OpsClaimDetailSchema)
    @errors(blp, 404)
    def get(self, claim_id: str) -> Response:
        """A claim with its policy, worksheet, payout, attachments, audit log and the other
        claims of the same policyholder or evidence"""
        staff()
        return ok(detail(claim_id))


def _decide(claim_id: str, decision: claim_decisions.Decision) -> Response:
    svc = services()
    claim = claim_decisions.decide(svc.claims(), claim_id, _actor(staff()), decision, svc.clock())
    return ok(_ops_claim(claim))


@blp.route("/claims/<claim_id>/approve")
class Approve(MethodView):
    @blp.arguments(ApproveRequestSchema())
    @blp.response(200, OpsClaimSchema)
    @errors(blp, 400, 403, 404, 409, 422)
    def post(self, body: dict[str, Any], claim_id: str) -> Response:
        """Approve (optionally another amount, with a reason). Above SECOND_APPROVAL_ABOVE
        the first approval waits for a second, different approver (role approver or admin)."""
        return _decide(
            claim_id,
            claim_decisions.Decision("approve", body.get("amount"), body.get("reason")),
        )


@blp.route("/claims/<claim_id>/reject")
class Reject(MethodView):
    @blp.arguments(RejectRequestSchema())
    @blp.response(200, OpsClaimSchema)
    @errors(blp, 400, 403, 404, 409)
    def post(self, body: dict[str, Any], claim_id: str) -> Response:
        """Reject with a reason code and a text"""
        return _decide(
            claim_id,
            claim_decisions.Decision(
                "reject", reason=body["reason"], reject_code=body["reject_code"]
            ),
        )


@blp.route("/claims/<claim_id>/request-info")
class RequestInfo(MethodView):
    @blp.arguments(RequestInfoSchema())
    @blp.response(200, OpsClaimSchema)
    @errors(blp, 400, 403, 404, 409)
    def post(self, body: dict[str, Any], claim_id: str) -> Response:
        """Ask the partner for more information; the claim stays in review"""
        return _decide(claim_id, claim_decisions.Decision("request_info", reason=body["reason"]))


@blp.route("/claims/<claim_id>/retry-payout")
class RetryPayout(MethodView):
    @blp.response(200, OpsClaimSchema)
    @errors(blp, 403, 404, 409)
    def post(self, claim_id: str) -> Response:
        """Send a failed payout again"""
        return _decide(claim_id, claim_decisions.Decision("retry_payout"))
